# Build, boot and test the ATA port firmware (TamaGo unikernel, amd64).
#
#   make          the firmware ELF (build/firmware.elf)
#   make image    a raw boot disk image for PCs with a legacy BIOS and for
#                 UEFI PCs without CSM (build/firmware.img): a GPT disk with
#                 the BIOS loader in boot/ (assembled with as/ld), the UEFI
#                 loader (gnu-efi) on an EFI system partition, and the ELF's
#                 segments, laid out by cmd/mkimage (boot/README.md); write
#                 it to a disk or USB stick with dd. IMAGE_PAD=64M makes it
#                 a disk of that size; IMAGE_ACTIVE=1 marks its protective
#                 MBR's partition active, for old BIOSes that want one.
#   make qemu-uefi boot that image in QEMU with OVMF (UEFI, no CSM)
#   make qemu     build, create a scratch disk if absent, boot QEMU with the
#                 serial console on this terminal (QEMU exits on `halt`)
#   make qemu-gdb the same, stopped for gdb on localhost:1234
#   make test     gofmt and go vet, host unit tests (race detector on) and
#                 the QEMU integration tests, after checking that the
#                 programs they run are installed
#   make soak     the soaks at full length, SOAK_TIME (10m) each: `ata
#                 stress` with faults injected, the images checked sector by
#                 sector afterwards; and with nothing injected, DMA+DMA then
#                 DMA+PIO, no completion lost to the interrupt path (make
#                 test runs each for 15 s)
#   make bench    boot the image under UEFI (OVMF) and time it, then boot
#                 the firmware in QEMU (the tests' machine) on a 1 GiB
#                 scratch disk (BENCH_DISK, in /dev/shm by default;
#                 cache=writeback), run `irql bench` and `ata bench`, and
#                 print one JSON object per measurement (cmd/benchrun;
#                 README "Performance")
#   make bench-peer the targets set as ratios to Linux, paired: each round
#                 boots Linux with ../shared/linux-peer (LINUX_PEER; needs
#                 root) and the firmware on the same disk image one right
#                 after the other, PEER_ROUNDS (5) rounds per mode, and
#                 prints every round's ratio and their median
#                 (cmd/benchrun -peer)
#   make trace    boot the firmware in QEMU with two scratch disks, trace a
#                 short two-channel load (DMA on ata0, PIO on ata1) and
#                 write build/trace.json (Chrome trace-event JSON for
#                 ui.perfetto.dev) and build/trace.svg (cmd/tracerun;
#                 README "Tracing")
#   make clean

TAMAGO_VERSION := $(shell sed -n 's/.*github.com\/usbarmory\/tamago v\([0-9.]*\).*/\1/p' go.mod | head -n1)
TAMAGO_GO      := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tamago-go/tamago-go$(TAMAGO_VERSION)/bin/go

BUILD   := build
ELF     := $(BUILD)/firmware.elf
IMAGE   := $(BUILD)/firmware.img
IMAGE_PAD ?=
IMAGE_ACTIVE ?=
IMAGE_OPTS := $(if $(IMAGE_PAD),-pad $(IMAGE_PAD)) $(if $(IMAGE_ACTIVE),-active)
TAGS    := linkcpuinit,linkramsize,linkprintk
LDFLAGS := -T 0x10010000 -R 0x1000 -X main.commit=$(shell git describe --always --dirty --abbrev=7 --exclude='*' 2>/dev/null || echo unknown)

ACCEL ?= tcg
CPU   ?= max
MEM   ?= 2G
SMP   ?= 2,sockets=1,cores=2
MACHINE ?= pc
DISK  ?= $(BUILD)/disk.img
DISK_SIZE ?= 64M
QEMU  ?= qemu-system-x86_64
QEMU_FLAGS = -accel $(ACCEL) -cpu $(CPU) -machine pc -m $(MEM) -smp $(SMP) \
	-display none -monitor none -serial stdio -no-reboot \
	-drive file=$(DISK),format=raw,if=ide,cache=writeback \
	-kernel $(ELF)

.PHONY: all firmware image qemu qemu-gdb qemu-uefi test test-tools bench bench-peer soak trace clean tamago-check FORCE

all: firmware
firmware: $(ELF)

# The TamaGo compiler is resolved through `go tool tamago`, which installs it
# on first use where GitHub is reachable. Where it is not, say so once.
tamago-check:
	@test -x "$(TAMAGO_GO)" || go tool tamago version >/dev/null 2>&1 || { \
	  echo "error: the TamaGo compiler tamago-go$(TAMAGO_VERSION) is not installed at $(dir $(TAMAGO_GO))"; \
	  echo "       and 'go tool tamago' could not install it (it clones github.com/usbarmory/tamago-go)."; \
	  echo "       Get the tag tamago-go$(TAMAGO_VERSION) of github.com/usbarmory/tamago-go into"; \
	  echo "       $(patsubst %/bin/go,%,$(TAMAGO_GO)) and run 'cd src && ./make.bash' there (see README)."; \
	  exit 1; }

# The PVH entry note is then pointed at boot/pvhentry.S, a stub at 1 MiB
# that checks the RAM first: QEMU's -kernel loads the firmware's segments
# (256 MiB and up) into no memory on a smaller machine, and the firmware's
# own entry could say nothing (boot/README.md, "Boot protocol").
$(ELF): tamago-check $(BUILD)/pvhentry.bin FORCE
	@mkdir -p $(BUILD)
	GOOS=tamago GOARCH=amd64 GOOSPKG=github.com/usbarmory/tamago \
	  $$(go tool -n github.com/usbarmory/tamago/cmd/tamago) build -tags $(TAGS) \
	  -ldflags "$(LDFLAGS)" -o $@ ./cmd/firmware
	go run ./cmd/mkimage -pvhstub $(BUILD)/pvhentry.bin $@

# The loader: 16-bit GNU assembler linked to flat binaries at the addresses
# the BIOS (stage 1, 0x7c00) and stage 1 (stage 2, 0x2000) load them to.
$(BUILD)/%.o: boot/%.S boot/layout.inc boot/bios.inc boot/checkram.inc
	@mkdir -p $(BUILD)
	as --32 -I boot -o $@ $<

$(BUILD)/pvhentry.bin: $(BUILD)/pvhentry.o
	ld -m elf_i386 -Ttext 0x100000 -e _start --oformat binary -o $@ $<

$(BUILD)/mbr.bin: $(BUILD)/mbr.o
	ld -m elf_i386 -Ttext 0x7c00 -e _start --oformat binary -o $@ $<

$(BUILD)/stage2.bin: $(BUILD)/stage2.o
	ld -m elf_i386 -Ttext 0x2000 -e _start --oformat binary -o $@ $<

# The UEFI loader: C against gnu-efi (Debian package gnu-efi), linked as a
# shared object with gnu-efi's start-up code and linker script, then turned
# into a PE32+ EFI application (subsystem 10) by objcopy. layout.h is
# boot/layout.inc's .set lines as #defines, so that one file holds the
# layout for the assembly and the C.
EFI_INC    := /usr/include/efi
EFI_LIB    := /usr/lib
EFI_CFLAGS := -I$(EFI_INC) -I$(EFI_INC)/x86_64 -I$(BUILD) -std=gnu11 -O2 -Wall -Werror \
	-ffreestanding -fpic -fshort-wchar -fno-stack-protector -fno-strict-aliasing \
	-mno-red-zone -maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI

$(BUILD)/layout.h: boot/layout.inc
	@mkdir -p $(BUILD)
	sed -n 's/^\.set[[:space:]]*\([A-Za-z0-9_]*\),[[:space:]]*\([^[:space:]#]*\).*/#define \1 \2/p' $< > $@

# The loader carries the SHA-256 of the payload it may start (payload.h),
# so that a signed loader vouches for the firmware too.
$(BUILD)/FIRMWARE.BIN: $(ELF)
	go run ./cmd/mkimage -payload -o $@ $(ELF)

$(BUILD)/payload.h: $(BUILD)/FIRMWARE.BIN
	sha256sum $< | cut -c1-64 | sed 's/../0x&,/g; s/^/#define PAYLOAD_SHA256 {/; s/,$$/}/' > $@

$(BUILD)/uefi.o: boot/uefi.c $(BUILD)/layout.h $(BUILD)/payload.h
	gcc $(EFI_CFLAGS) -c -o $@ $<

$(BUILD)/trampoline.o: boot/trampoline.S boot/layout.inc
	as --64 -I boot -o $@ $<

$(BUILD)/bootx64.so: $(BUILD)/uefi.o $(BUILD)/trampoline.o
	ld -nostdlib -znocombreloc -shared -Bsymbolic -T $(EFI_LIB)/elf_x86_64_efi.lds \
	  $(EFI_LIB)/crt0-efi-x86_64.o $^ -L$(EFI_LIB) -lefi -lgnuefi -o $@

# Secure Boot: with SB_KEY and SB_CERT (PEM files, the key unencrypted) the
# loader is signed by sbsign (Debian package sbsigntool) for firmware that
# trusts that certificate (README, "Secure Boot").
SB_KEY  ?=
SB_CERT ?=

$(BUILD)/BOOTX64.EFI: $(BUILD)/bootx64.so
	objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	  -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@
	$(if $(SB_KEY),sbsign --key $(SB_KEY) --cert $(SB_CERT) --output $@ $@)

image: $(IMAGE)

$(IMAGE): $(ELF) $(BUILD)/mbr.bin $(BUILD)/stage2.bin $(BUILD)/BOOTX64.EFI
	go run ./cmd/mkimage -mbr $(BUILD)/mbr.bin -stage2 $(BUILD)/stage2.bin \
	  -efi $(BUILD)/BOOTX64.EFI $(IMAGE_OPTS) -o $@ $(ELF)

$(DISK):
	@mkdir -p $(dir $@)
	truncate -s $(DISK_SIZE) $@

qemu: $(ELF) $(DISK)
	$(QEMU) $(QEMU_FLAGS)

qemu-gdb: $(ELF) $(DISK)
	$(QEMU) $(QEMU_FLAGS) -s -S

# OVMF from Debian's ovmf package: its code read-only, a copy of its
# variable store in build/ (boot entries persist between runs there).
OVMF_CODE := /usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS := /usr/share/OVMF/OVMF_VARS_4M.fd

$(BUILD)/OVMF_VARS.fd: $(OVMF_VARS)
	@mkdir -p $(BUILD)
	cp $< $@

qemu-uefi: $(IMAGE) $(BUILD)/OVMF_VARS.fd
	$(QEMU) -accel $(ACCEL) -cpu $(CPU) -machine $(MACHINE) -m $(MEM) -smp $(SMP) \
	  -display none -monitor none -serial stdio -no-reboot -net none \
	  -drive if=pflash,format=raw,unit=0,readonly=on,file=$(OVMF_CODE) \
	  -drive if=pflash,format=raw,unit=1,file=$(BUILD)/OVMF_VARS.fd \
	  -drive file=$(IMAGE),format=raw,if=ide,snapshot=on

# The outside programs and files `make test` uses, as program-or-path:Debian
# package: QEMU boots the firmware, qemu-img makes the qcow2 image of
# TestFlushDurable, as/ld/gcc/objcopy build the boot loaders, OVMF and
# gnu-efi boot and build the UEFI path, sbsign and openssl sign the loader
# for the Secure Boot test. Everything else the tests use is Go (the ISO
# 9660 image of TestATAFourDevices included).
TEST_TOOLS := qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils as:binutils ld:binutils \
	objcopy:binutils gcc:gcc $(OVMF_CODE):ovmf /usr/lib/crt0-efi-x86_64.o:gnu-efi \
	sbsign:sbsigntool openssl:openssl apt-get:apt dpkg-deb:dpkg

# A QEMU whose TCG emulates the x2APIC, for TestX2APICAtEntry: Debian 12's
# QEMU 7.2 does not (TCG gained it in QEMU 8.1). Debian's own QEMU from
# $(QEMU_X2APIC_SUITE), downloaded through a package list of its own and
# unpacked here: nothing is installed, and every other test runs the
# system's QEMU.
QEMU_X2APIC_DIR   := $(BUILD)/qemu-x2apic
QEMU_X2APIC_SUITE ?= bookworm-backports
QEMU_X2APIC_PKGS  := qemu-system-x86 qemu-system-common qemu-system-data qemu-system-modules-opengl seabios
QEMU_X2APIC_APT   := $(abspath $(BUILD))/qemu-x2apic-apt
APT_OWN_LIST = -o Dir::Etc::sourcelist=$(QEMU_X2APIC_APT)/sources.list -o Dir::Etc::sourceparts=- \
	-o Dir::State::Lists=$(QEMU_X2APIC_APT)/lists -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
	-o APT::Sandbox::User=$(shell id -un)

$(QEMU_X2APIC_DIR)/usr/bin/qemu-system-x86_64:
	rm -rf $(QEMU_X2APIC_DIR) $(QEMU_X2APIC_APT)
	mkdir -p $(QEMU_X2APIC_APT)/lists/partial
	echo 'deb http://deb.debian.org/debian $(QEMU_X2APIC_SUITE) main' > $(QEMU_X2APIC_APT)/sources.list
	apt-get -qq $(APT_OWN_LIST) update
	cd $(QEMU_X2APIC_APT) && apt-get -qq $(APT_OWN_LIST) download $(QEMU_X2APIC_PKGS)
	for d in $(QEMU_X2APIC_APT)/*.deb; do dpkg-deb -x $$d $(QEMU_X2APIC_DIR) || exit 1; done
	$@ --version | head -n1

# Checks every tool before anything is built, so that a fresh machine learns
# in one message all it lacks instead of one test failure at a time.
test-tools:
	@missing=; for t in $(TEST_TOOLS); do \
	  p=$${t%%:*}; \
	  case $$p in /*) test -e $$p && continue;; *) command -v $$p >/dev/null 2>&1 && continue;; esac; \
	  case " $$missing " in *" $${t#*:} "*) ;; *) missing="$$missing $${t#*:}";; esac; \
	done; \
	test -z "$$missing" || { \
	  echo "error: make test needs the Debian packages$$missing (apt-get install$$missing)"; \
	  exit 1; }

# The recursive make builds only once the tools are known to be there.
test: test-tools
	@$(MAKE) --no-print-directory image $(QEMU_X2APIC_DIR)/usr/bin/qemu-system-x86_64
	go vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "error: not gofmt'ed (gofmt -w them):" $$unformatted; exit 1; fi
	go test -race -count=1 $$(go list ./... | grep -v '/cmd/firmware$$')
	@# The QEMU tests run alone: they time the guest from the host.
	FIRMWARE_ELF=$(abspath $(ELF)) FIRMWARE_IMG=$(abspath $(IMAGE)) QEMU_X2APIC_DIR=$(abspath $(QEMU_X2APIC_DIR)) \
	  go test -count=1 -timeout 40m ./cmd/firmware/

SOAK_TIME ?= 10m

soak: $(ELF)
	FIRMWARE_ELF=$(abspath $(ELF)) SOAK_TIME=$(SOAK_TIME) go test -count=1 -timeout 90m -v -run 'TestFaultSoak$$|TestSoakNoFaults$$' ./cmd/firmware/

# In tmpfs where there is one: the image then lives in memory only, so that
# neither the host's disk nor its writeback of the benchmark's writes shows
# in the figures (cmd/benchrun says why cache=writeback).
BENCH_DISK ?= $(if $(wildcard /dev/shm/.),/dev/shm/ataport-bench.img,$(BUILD)/bench.img)

bench: $(ELF) $(IMAGE)
	go run ./cmd/benchrun -image $(IMAGE) -elf $(ELF) -disk $(BENCH_DISK)

LINUX_PEER ?= ../shared/linux-peer
PEER_ROUNDS ?= 5
PEER_MODES ?= pio,dma,ahci

bench-peer: $(ELF)
	go run ./cmd/benchrun -elf $(ELF) -peer $(abspath $(LINUX_PEER)) -peer-rounds $(PEER_ROUNDS) -peer-modes $(PEER_MODES)

TRACE_TIME ?= 2s

trace: $(ELF)
	go run ./cmd/tracerun -elf $(ELF) -out $(BUILD) -time $(TRACE_TIME)

clean:
	rm -rf $(BUILD)
