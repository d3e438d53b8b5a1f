# Build, boot and test the ATA port firmware (TamaGo unikernel, amd64).
#
#   make          the firmware ELF (build/firmware.elf)
#   make image    a raw boot disk image for PCs with a legacy BIOS or UEFI
#                 CSM (build/firmware.img): the loader in boot/ (assembled
#                 with as/ld) and the ELF's segments, laid out by
#                 cmd/mkimage (boot/README.md); write it to a disk or USB
#                 stick with dd. IMAGE_PAD=64M pads it to a disk's size.
#   make qemu     build, create a scratch disk if absent, boot QEMU with the
#                 serial console on this terminal (QEMU exits on `halt`)
#   make qemu-gdb the same, stopped for gdb on localhost:1234
#   make test     host unit tests and the QEMU integration tests, after
#                 checking that the programs they run are installed
#   make soak     the fault soak at full length: `ata stress` for SOAK_TIME
#                 (60s) with faults injected, the images checked sector by
#                 sector (make test runs it for 15 s)
#   make bench    boot the firmware in QEMU (the tests' machine) on a 1 GiB
#                 scratch disk (BENCH_DISK, in /dev/shm by default;
#                 cache=writeback), run `irql bench` and `ata bench`, and
#                 print one JSON object per measurement (cmd/benchrun;
#                 README "Performance")
#   make clean

TAMAGO_VERSION := $(shell sed -n 's/.*github.com\/usbarmory\/tamago v\([0-9.]*\).*/\1/p' go.mod | head -n1)
TAMAGO_GO      := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tamago-go/tamago-go$(TAMAGO_VERSION)/bin/go

BUILD   := build
ELF     := $(BUILD)/firmware.elf
IMAGE   := $(BUILD)/firmware.img
IMAGE_PAD ?=
TAGS    := linkcpuinit,linkramsize,linkprintk
LDFLAGS := -T 0x10010000 -R 0x1000 -X main.commit=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

ACCEL ?= tcg
CPU   ?= max
MEM   ?= 2G
SMP   ?= 2,sockets=1,cores=2
DISK  ?= $(BUILD)/disk.img
DISK_SIZE ?= 64M
QEMU  ?= qemu-system-x86_64
QEMU_FLAGS = -accel $(ACCEL) -cpu $(CPU) -machine pc -m $(MEM) -smp $(SMP) \
	-display none -monitor none -serial stdio -no-reboot \
	-drive file=$(DISK),format=raw,if=ide,cache=writeback \
	-kernel $(ELF)

.PHONY: all firmware image qemu qemu-gdb test test-tools bench soak clean tamago-check FORCE

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

$(ELF): tamago-check FORCE
	@mkdir -p $(BUILD)
	GOOS=tamago GOARCH=amd64 GOOSPKG=github.com/usbarmory/tamago \
	  $$(go tool -n github.com/usbarmory/tamago/cmd/tamago) build -tags $(TAGS) \
	  -ldflags "$(LDFLAGS)" -o $@ ./cmd/firmware

# The loader: 16-bit GNU assembler linked to flat binaries at the addresses
# the BIOS (stage 1, 0x7c00) and stage 1 (stage 2, 0x2000) load them to.
$(BUILD)/%.o: boot/%.S boot/layout.inc boot/bios.inc
	@mkdir -p $(BUILD)
	as --32 -I boot -o $@ $<

$(BUILD)/mbr.bin: $(BUILD)/mbr.o
	ld -m elf_i386 -Ttext 0x7c00 -e _start --oformat binary -o $@ $<

$(BUILD)/stage2.bin: $(BUILD)/stage2.o
	ld -m elf_i386 -Ttext 0x2000 -e _start --oformat binary -o $@ $<

image: $(IMAGE)

$(IMAGE): $(ELF) $(BUILD)/mbr.bin $(BUILD)/stage2.bin
	go run ./cmd/mkimage -mbr $(BUILD)/mbr.bin -stage2 $(BUILD)/stage2.bin \
	  $(if $(IMAGE_PAD),-pad $(IMAGE_PAD)) -o $@ $(ELF)

$(DISK):
	@mkdir -p $(dir $@)
	truncate -s $(DISK_SIZE) $@

qemu: $(ELF) $(DISK)
	$(QEMU) $(QEMU_FLAGS)

qemu-gdb: $(ELF) $(DISK)
	$(QEMU) $(QEMU_FLAGS) -s -S

# The outside programs `make test` runs, as program:Debian package: QEMU
# boots the firmware, qemu-img makes the qcow2 image of TestFlushDurable, and
# as/ld assemble the boot loader of the image tests. Everything else the tests
# use is Go (the ISO 9660 image of TestATAFourDevices included).
TEST_TOOLS := qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils as:binutils ld:binutils

# Checks every tool before anything is built, so that a fresh machine learns
# in one message all it lacks instead of one test failure at a time.
test-tools:
	@missing=; for t in $(TEST_TOOLS); do \
	  command -v $${t%%:*} >/dev/null 2>&1 && continue; \
	  case " $$missing " in *" $${t#*:} "*) ;; *) missing="$$missing $${t#*:}";; esac; \
	done; \
	test -z "$$missing" || { \
	  echo "error: make test needs the Debian packages$$missing (apt-get install$$missing)"; \
	  exit 1; }

# The recursive make builds only once the tools are known to be there.
test: test-tools
	@$(MAKE) --no-print-directory image
	go vet ./...
	go test -count=1 $$(go list ./... | grep -v '/cmd/firmware$$')
	@# The QEMU tests run alone: they time the guest from the host.
	FIRMWARE_ELF=$(abspath $(ELF)) FIRMWARE_IMG=$(abspath $(IMAGE)) go test -count=1 -timeout 40m ./cmd/firmware/

SOAK_TIME ?= 60s

soak: $(ELF)
	FIRMWARE_ELF=$(abspath $(ELF)) SOAK_TIME=$(SOAK_TIME) go test -count=1 -timeout 30m -v -run 'TestFaultSoak$$' ./cmd/firmware/

# In tmpfs where there is one: the image then lives in memory only, so that
# neither the host's disk nor its writeback of the benchmark's writes shows
# in the figures (cmd/benchrun says why cache=writeback).
BENCH_DISK ?= $(if $(wildcard /dev/shm/.),/dev/shm/ataport-bench.img,$(BUILD)/bench.img)

bench: $(ELF)
	go run ./cmd/benchrun -elf $(ELF) -disk $(BENCH_DISK)

clean:
	rm -rf $(BUILD)
