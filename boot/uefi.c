/*
 * BOOTX64.EFI: the UEFI loader. A UEFI firmware without CSM starts it from
 * the EFI system partition (UEFI 2.10, 3.5.1.1 "Removable Media Boot
 * Behavior"); it hands the firmware over exactly as stage 2 does after a
 * legacy BIOS boot (stage2.S; boot/README.md, "Boot protocol"): a PVH
 * start_info at START_INFO_ADDR with the memory map in E820 terms, the RSDP
 * and the command line "loader=uefi", and the PVH entry in 32-bit
 * protected mode with paging off.
 *
 * Steps:
 *  1. console: the UEFI console, and COM1 directly unless the console
 *     already reaches a UART (ConOut);
 *  2. read the firmware payload PAYLOAD_PATH from the volume this loader
 *     came from, check its header and CRC-32 as stage 2 does, and its
 *     SHA-256 against the one the loader was built with (payload.h), so
 *     that a signed loader starts only the firmware it was signed with;
 *  3. find the ACPI 2.0 RSDP in the configuration table;
 *  4. check that the firmware's RAM is RAM in the memory map, allocate the
 *     pages the segments go to at their addresses, copy the segments and
 *     zero their tails;
 *  5. copy the trampoline (trampoline.S) to a page below 4 GiB;
 *  6. read the memory map, check the low memory the hand-over writes and
 *     the firmware's RAM, convert the map to E820 entries, and exit boot
 *     services, reading the map again while the firmware refuses a stale
 *     map key;
 *  7. interrupts off; mask the local APIC timer and LINT0 and the 8259s;
 *     write start_info; call the trampoline, which enters the firmware.
 *
 * Every error is printed (on the UEFI console while boot services run, on
 * COM1 always) and stops the CPU.
 *
 * References: UEFI 2.10 (7.2 "Memory Allocation Services", 7.4 "Image
 * Services": ExitBootServices, 4.6 "EFI Configuration Table"); ACPI 6.4,
 * 15.3 "UEFI GetMemoryMap() Boot Services Function" and 15.4 "UEFI
 * Assumptions and Limitations" (UEFI memory types as E820 address range
 * types); Intel SDM Vol. 3A (2023), chapter 11 "Advanced Programmable
 * Interrupt Controller (APIC)"; Xen docs/misc/pvh.pandoc and
 * public/arch-x86/hvm/start_info.h; FIPS 180-4 (SHA-256); PC16550D UART
 * datasheet; 8259A PIC datasheet, OCW1.
 */
#include <efi.h>
#include <efilib.h>

#include "layout.h"
#include "payload.h"

#define PAYLOAD_PATH L"\\EFI\\ATAPORT\\FIRMWARE.BIN"
#define CMDLINE "loader=uefi"

/* ExitBootServices may fail with a stale map key whenever the firmware
 * allocates memory between GetMemoryMap and the call (an event, a timer
 * callback); a few rounds suffice, more means something keeps changing
 * the map. */
#define EXIT_TRIES 8
/* Room for the descriptors that appear between sizing the map and reading
 * it (the buffer's own allocation splits one). */
#define MAP_SLACK 16

/* E820 address range types (ACPI 6.4, 15.1). */
enum {
	E820_RAM = 1,
	E820_RESERVED = 2,
	E820_ACPI = 3,
	E820_NVS = 4,
	E820_UNUSABLE = 5,
	E820_PMEM = 7,
};

/* EfiPersistentMemory (UEFI 2.10, 7.2.1, EFI_MEMORY_TYPE), which gnu-efi
 * 3.0.15 does not define. */
#define EFI_PERSISTENT_MEMORY	14

/* struct hvm_memmap_table_entry (start_info.h). */
struct memmap_entry {
	UINT64 addr, size;
	UINT32 type, reserved;
};

/* Local APIC (SDM Vol. 3A, 11.4.4 "Local APIC Status and Location", 11.5.1
 * "Local Vector Table", 11.12 "Extended XAPIC (x2APIC)" for the MSR
 * addresses). */
#define IA32_APIC_BASE		0x1b
#define APIC_BASE_EXTD		(1 << 10)	/* x2APIC mode */
#define APIC_BASE_EN		(1 << 11)	/* APIC global enable */
#define LAPIC_LVT_TIMER		0x320
#define LAPIC_LVT_LINT0		0x350
#define X2APIC_MSR(off)		(0x800 + ((off) >> 4))
#define LVT_MASKED		(1 << 16)

#define PIC1_DATA		0x21		/* 8259A OCW1 ports */
#define PIC2_DATA		0xa1

extern char trampoline_start[], trampoline_end[];

static BOOLEAN com1_direct;	/* this loader writes COM1 itself */
static BOOLEAN console_ok;	/* boot services' console may be used */

static struct memmap_entry e820[MEMMAP_MAX];

static inline void outb(UINT16 port, UINT8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline UINT8 inb(UINT16 port)
{
	UINT8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline UINT64 rdmsr(UINT32 msr)
{
	UINT32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (UINT64)hi << 32 | lo;
}

static inline void wrmsr(UINT32 msr, UINT64 v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((UINT32)v), "d"((UINT32)(v >> 32)));
}

/* com1_putc polls LSR as stage 1's putc does, giving up after 65536 reads
 * so that a machine without a UART (LSR reads 0xff) does not hang. */
static void com1_putc(char c)
{
	for (UINTN i = 0; i < 65536 && !(inb(COM1 + LSR) & LSR_THRE); i++)
		;
	outb(COM1 + THR, c);
}

/* com1_init programs COM1 as stage 1 does: no interrupts, divisor 1
 * (115200 baud), 8N1, FIFOs on and cleared, DTR and RTS. */
static void com1_init(void)
{
	static const UINT8 init[][2] = {
		{IER, 0x00}, {LCR, 0x80}, {DLL, 0x01}, {DLM, 0x00},
		{LCR, 0x03}, {FCR, 0x07}, {MCR, 0x03},
	};
	for (UINTN i = 0; i < sizeof init / sizeof init[0]; i++)
		outb(COM1 + init[i][0], init[i][1]);
}

/* conout_has_uart reports whether the console (the ConOut variable, a
 * multi-instance device path: UEFI 2.10, 3.3 "Globally Defined
 * Variables", 10.3.4 "Messaging Device Path", UART) includes a serial
 * terminal. OVMF's does, on COM1: writing COM1 directly as well would
 * print every line twice. */
static BOOLEAN conout_has_uart(void)
{
	UINTN size = 0;
	EFI_DEVICE_PATH *dp = LibGetVariableAndSize(L"ConOut", &EfiGlobalVariable, &size);
	UINT8 *end = (UINT8 *)dp + size;
	BOOLEAN found = FALSE;

	for (EFI_DEVICE_PATH *n = dp; dp && (UINT8 *)n + sizeof *n <= end;
	     n = NextDevicePathNode(n)) {
		if (DevicePathNodeLength(n) < sizeof *n)
			break;
		if (DevicePathType(n) == MESSAGING_DEVICE_PATH && DevicePathSubType(n) == MSG_UART_DP)
			found = TRUE;
	}
	if (dp)
		FreePool(dp);
	return found;
}

/* say prints a line on the UEFI console while boot services run and on
 * COM1 when the console does not reach it or is gone. */
static void say(const CHAR16 *fmt, ...)
{
	CHAR16 buf[160];
	va_list ap;

	va_start(ap, fmt);
	VSPrint(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (console_ok)
		uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, buf);
	if (com1_direct || !console_ok)
		for (CHAR16 *p = buf; *p; p++)
			com1_putc(*p < 0x80 ? (char)*p : '?');
}

static void __attribute__((noreturn)) halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

#define fatal(...) do { say(__VA_ARGS__); halt(); } while (0)

/* crc32 is ISO 3309 / IEEE 802.3 (Go's crc32.ChecksumIEEE), continued
 * from crc (0 to start), as stage 2's step 5. */
static UINT32 crc32(UINT32 crc, const UINT8 *p, UINTN n)
{
	static UINT32 table[256];

	if (!table[1])
		for (UINT32 i = 0; i < 256; i++) {
			UINT32 c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* SHA-256 (FIPS 180-4, 6.2): the round constants of 4.2.2, the initial
 * hash value of 5.3.3. */
static const UINT32 sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

/* sha256_block processes one 64-byte block (FIPS 180-4, 6.2.2 steps 1-4). */
static void sha256_block(UINT32 h[8], const UINT8 *p)
{
	UINT32 w[64], v[8];

	for (int t = 0; t < 16; t++)
		w[t] = (UINT32)p[4 * t] << 24 | p[4 * t + 1] << 16 | p[4 * t + 2] << 8 | p[4 * t + 3];
	for (int t = 16; t < 64; t++)
		w[t] = (ROR(w[t - 2], 17) ^ ROR(w[t - 2], 19) ^ w[t - 2] >> 10) + w[t - 7] +
		       (ROR(w[t - 15], 7) ^ ROR(w[t - 15], 18) ^ w[t - 15] >> 3) + w[t - 16];
	for (int i = 0; i < 8; i++)
		v[i] = h[i];
	for (int t = 0; t < 64; t++) {
		UINT32 t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
			    ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[t] + w[t];
		UINT32 t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
			    ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		for (int i = 7; i > 0; i--)
			v[i] = v[i - 1];
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		h[i] += v[i];
}

/* sha256 hashes n bytes at p into out, padding the message as FIPS 180-4
 * 5.1.1 says: a 1 bit, zeros, the length in bits as 64 bits big-endian. */
static void sha256(const UINT8 *p, UINTN n, UINT8 out[32])
{
	UINT32 h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	UINT8 last[128];
	UINTN full = n & ~(UINTN)63, tail = n - full, end = tail < 56 ? 64 : 128;
	UINT64 bits = (UINT64)n * 8;

	for (UINTN off = 0; off < full; off += 64)
		sha256_block(h, p + off);
	ZeroMem(last, sizeof last);
	CopyMem(last, p + full, tail);
	last[tail] = 0x80;
	for (int i = 0; i < 8; i++)
		last[end - 1 - i] = bits >> (8 * i);
	for (UINTN off = 0; off < end; off += 64)
		sha256_block(h, last + off);
	for (int i = 0; i < 32; i++)
		out[i] = h[i / 4] >> (24 - 8 * (i % 4));
}

static UINT32 le32(const UINT8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (UINT32)p[3] << 24; }
static UINT16 le16(const UINT8 *p) { return p[0] | p[1] << 8; }

/* read_payload reads PAYLOAD_PATH from the volume the loader was loaded
 * from (its EFI_LOADED_IMAGE_PROTOCOL's DeviceHandle). */
static UINT8 *read_payload(EFI_HANDLE image, UINTN *size)
{
	EFI_LOADED_IMAGE *li;
	EFI_FILE_HANDLE root, f;
	EFI_FILE_INFO *info;
	EFI_STATUS st;
	UINT8 *buf;

	st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st))
		fatal(L"boot: no loaded image protocol: %r\r\n", st);
	root = LibOpenRoot(li->DeviceHandle);
	if (!root)
		fatal(L"boot: cannot open the loader's volume\r\n");
	st = uefi_call_wrapper(root->Open, 5, root, &f, PAYLOAD_PATH, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st))
		fatal(L"boot: cannot open %s: %r\r\n", PAYLOAD_PATH, st);
	info = LibFileInfo(f);
	if (!info)
		fatal(L"boot: cannot read %s\r\n", PAYLOAD_PATH);
	*size = info->FileSize;
	FreePool(info);
	buf = AllocatePool(*size);
	if (!buf)
		fatal(L"boot: no memory for %s (%ld KiB)\r\n", PAYLOAD_PATH, (*size + 1023) >> 10);
	st = uefi_call_wrapper(f->Read, 3, f, size, buf);
	if (EFI_ERROR(st))
		fatal(L"boot: cannot read %s: %r\r\n", PAYLOAD_PATH, st);
	uefi_call_wrapper(f->Close, 1, f);
	uefi_call_wrapper(root->Close, 1, root);
	return buf;
}

/* check_payload checks the header as stage 2's step 3 does, with the same
 * messages, and that the file holds every segment; then the CRC-32 of the
 * segments (stage 2's step 5), and last the SHA-256 of the whole file
 * (the CRC names damage as stage 2 does, the hash also refuses a
 * payload made to match it), before anything is written. It returns
 * the lowest and the highest address the segments occupy. */
static void check_payload(const UINT8 *p, UINTN size, UINT64 *lo, UINT64 *hi)
{
	static const UINT8 want[32] = PAYLOAD_SHA256;
	UINT8 digest[32];
	UINT64 total = 0;
	UINT32 crc = 0;
	UINT16 n;

	if (size < SECTOR_SIZE || le32(p + HDR_MAGIC) != HEADER_MAGIC || le16(p + HDR_VERSION) != HEADER_VERSION)
		fatal(L"boot: bad firmware header magic or version\r\n");
	if (le32(p + HDR_SIZE) > FIRMWARE_MAX)
		fatal(L"boot: firmware too large: %d KiB (max %d KiB)\r\n",
		      (le32(p + HDR_SIZE) + 1023) >> 10, FIRMWARE_MAX >> 10);
	n = le16(p + HDR_NSEGS);
	if (n == 0 || n > MAX_SEGMENTS)
		fatal(L"boot: bad firmware header: segment table\r\n");
	*lo = LOAD_MAX;
	*hi = 0;
	for (UINT16 i = 0; i < n; i++) {
		const UINT8 *s = p + HDR_SEGS + i * SEG_SIZE;
		UINT64 paddr = le32(s + SEG_PADDR), filesz = le32(s + SEG_FILESZ);
		UINT64 end = paddr + filesz + le32(s + SEG_ZERO);
		UINT64 off = (UINT64)le32(s + SEG_LBA) * SECTOR_SIZE;

		if (paddr < LOAD_MIN || end > LOAD_MAX)
			fatal(L"boot: bad firmware header: segment table\r\n");
		if (off + filesz > size)
			fatal(L"boot: %s: %ld bytes, its segment %d ends at %ld\r\n",
			      PAYLOAD_PATH, (UINT64)size, i, off + filesz);
		total += filesz;
		crc = crc32(crc, p + off, filesz);
		if (paddr < *lo)
			*lo = paddr;
		if (end > *hi)
			*hi = end;
	}
	if (total != le32(p + HDR_SIZE))
		fatal(L"boot: bad firmware header: segment table\r\n");
	if (crc != le32(p + HDR_CRC))
		fatal(L"boot: firmware checksum mismatch: image corrupt\r\n");
	sha256(p, size, digest);
	if (CompareMem(digest, want, sizeof want))
		fatal(L"boot: %s is not the payload this loader was built for (SHA-256)\r\n", PAYLOAD_PATH);
}

/* find_rsdp returns the ACPI 2.0 RSDP from the configuration table (UEFI
 * 2.10, 4.6.1.1 "Industry Standard Configuration Tables"). */
static UINT64 find_rsdp(void)
{
	EFI_GUID acpi20 = ACPI_20_TABLE_GUID;

	for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
		if (!CompareGuid(&ST->ConfigurationTable[i].VendorGuid, &acpi20))
			return (UINT64)(UINTN)ST->ConfigurationTable[i].VendorTable;
	fatal(L"boot: no ACPI 2.0 RSDP in the UEFI configuration table\r\n");
}

/* load allocates [lo, hi) rounded to pages at its address, so that nothing
 * of UEFI's is there, then copies each segment and zeroes its tail. */
static void load(const UINT8 *p, UINT64 lo, UINT64 hi)
{
	EFI_PHYSICAL_ADDRESS addr = lo & ~(UINT64)(EFI_PAGE_SIZE - 1);
	UINTN pages = (hi - addr + EFI_PAGE_SIZE - 1) / EFI_PAGE_SIZE;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, pages, &addr);
	if (EFI_ERROR(st))
		fatal(L"boot: no memory for the firmware at 0x%lx-0x%lx (AllocatePages: %r)\r\n",
		      addr, addr + pages * EFI_PAGE_SIZE, st);
	for (UINT16 i = 0; i < le16(p + HDR_NSEGS); i++) {
		const UINT8 *s = p + HDR_SEGS + i * SEG_SIZE;
		UINT8 *dst = (UINT8 *)(UINTN)le32(s + SEG_PADDR);

		CopyMem(dst, p + (UINTN)le32(s + SEG_LBA) * SECTOR_SIZE, le32(s + SEG_FILESZ));
		ZeroMem(dst + le32(s + SEG_FILESZ), le32(s + SEG_ZERO));
	}
}

/* trampoline copies trampoline.S's code to a page below 4 GiB, where
 * compatibility mode can run it. EfiLoaderCode: firmware that maps data
 * pages non-executable (edk2's PcdDxeNxMemoryProtectionPolicy) leaves
 * loader code executable. */
static void (*trampoline(void))(UINT32)
{
	EFI_PHYSICAL_ADDRESS addr = 0xffffffff;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderCode, 1, &addr);
	if (EFI_ERROR(st))
		fatal(L"boot: no memory below 4 GiB for the trampoline (AllocatePages: %r)\r\n", st);
	CopyMem((void *)(UINTN)addr, trampoline_start, trampoline_end - trampoline_start);
	return (void (*)(UINT32))(UINTN)addr;
}

/* e820_type maps a UEFI memory type to what it is once boot services are
 * gone (ACPI 6.4, 15.3, the mapping of UEFI memory types to address range
 * types): the loader's and boot services' memory is RAM then. */
static UINT32 e820_type(UINT32 t)
{
	switch (t) {
	case EfiLoaderCode:
	case EfiLoaderData:
	case EfiBootServicesCode:
	case EfiBootServicesData:
	case EfiConventionalMemory:
		return E820_RAM;
	case EfiUnusableMemory:
		return E820_UNUSABLE;
	case EfiACPIReclaimMemory:
		return E820_ACPI;
	case EfiACPIMemoryNVS:
		return E820_NVS;
	case EFI_PERSISTENT_MEMORY:
		return E820_PMEM;
	}
	return E820_RESERVED;
}

#define DESC(map, dsize, i) ((EFI_MEMORY_DESCRIPTOR *)((UINT8 *)(map) + (i) * (dsize)))

/* convert sorts the map by address (UEFI does not promise an order) and
 * turns it into E820 entries in e820[], merging neighbours of one type,
 * as Linux's EFI stub does (setup_e820). It returns the number of entries,
 * 0 when they do not fit MEMMAP_MAX. */
static UINTN convert(EFI_MEMORY_DESCRIPTOR *map, UINTN n, UINTN dsize)
{
	UINT8 tmp[256];
	UINTN out = 0;

	if (dsize > sizeof tmp)
		fatal(L"boot: memory map descriptors of %ld bytes\r\n", (UINT64)dsize);
	for (UINTN i = 1; i < n; i++)
		for (UINTN j = i; j > 0 && DESC(map, dsize, j - 1)->PhysicalStart > DESC(map, dsize, j)->PhysicalStart; j--) {
			CopyMem(tmp, DESC(map, dsize, j), dsize);
			CopyMem(DESC(map, dsize, j), DESC(map, dsize, j - 1), dsize);
			CopyMem(DESC(map, dsize, j - 1), tmp, dsize);
		}
	for (UINTN i = 0; i < n; i++) {
		EFI_MEMORY_DESCRIPTOR *d = DESC(map, dsize, i);
		UINT32 type = e820_type(d->Type);
		UINT64 size = d->NumberOfPages * EFI_PAGE_SIZE;

		if (!size)
			continue;
		if (out > 0 && e820[out - 1].type == type && e820[out - 1].addr + e820[out - 1].size == d->PhysicalStart) {
			e820[out - 1].size += size;
			continue;
		}
		if (out == MEMMAP_MAX)
			return 0;
		e820[out++] = (struct memmap_entry){.addr = d->PhysicalStart, .size = size, .type = type};
	}
	return out;
}

#define TYPE(t) (1u << (t))
/* What is free once boot services are gone (UEFI 2.10, 7.2.1, Table 7-6,
 * usage after ExitBootServices), and what, besides, the firmware may
 * overwrite when it runs: the loader's own memory, which it no longer
 * needs, and runtime services' memory, since the firmware never calls
 * runtime services. */
#define FREE_AFTER_EXIT (TYPE(EfiConventionalMemory) | TYPE(EfiBootServicesCode) | TYPE(EfiBootServicesData))
#define FIRMWARE_MAY_USE (FREE_AFTER_EXIT | TYPE(EfiLoaderCode) | TYPE(EfiLoaderData) | \
			  TYPE(EfiRuntimeServicesCode) | TYPE(EfiRuntimeServicesData))

/* covered reports whether all of [start, end) lies in descriptors of the
 * memory types in mask. */
static BOOLEAN covered(EFI_MEMORY_DESCRIPTOR *map, UINTN n, UINTN dsize, UINT64 start, UINT64 end, UINT32 mask)
{
	UINT64 sum = 0;

	for (UINTN i = 0; i < n; i++) {
		EFI_MEMORY_DESCRIPTOR *d = DESC(map, dsize, i);
		UINT64 s = d->PhysicalStart, e = s + d->NumberOfPages * EFI_PAGE_SIZE;

		if (d->Type >= 32 || !(mask & TYPE(d->Type)))
			continue;
		if (s < start)
			s = start;
		if (e > end)
			e = end;
		if (s < e)
			sum += e - s;
	}
	return sum == end - start;
}

/* check_fw_ram checks that the firmware's RAM (layout.inc) holds nothing
 * it must leave alone (ACPI tables and NVS, MMIO, reserved memory, no
 * memory at all). */
static void check_fw_ram(EFI_MEMORY_DESCRIPTOR *map, UINTN n, UINTN dsize)
{
	if (!covered(map, n, dsize, FW_RAM_START, FW_RAM_END, FIRMWARE_MAY_USE))
		fatal(L"boot: memory 0x%x-0x%x is not all RAM: the firmware needs it (UEFI memory map)\r\n",
		      FW_RAM_START, FW_RAM_END);
}

/* check_map checks the two ranges the firmware takes without asking (the
 * ranges are in layout.inc): low memory, which the hand-over writes while
 * the loader still runs, must be free of anything, the loader's own memory
 * included; and the firmware's RAM (check_fw_ram). */
static void check_map(EFI_MEMORY_DESCRIPTOR *map, UINTN n, UINTN dsize)
{
	if (!covered(map, n, dsize, LOW_START, LOW_END, FREE_AFTER_EXIT))
		fatal(L"boot: memory 0x%x-0x%x is not free for the hand-over (UEFI memory map)\r\n",
		      LOW_START, LOW_END);
	check_fw_ram(map, n, dsize);
}

/* map_buffer returns a pool buffer for the memory map and its size in
 * *cap: the map's size now, with room for MAP_SLACK more descriptors (the
 * allocation itself may split one). */
static EFI_MEMORY_DESCRIPTOR *map_buffer(UINTN *cap)
{
	UINTN size = 0, key, dsize;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, NULL, &key, &dsize, &dver);
	if (st != EFI_BUFFER_TOO_SMALL)
		fatal(L"boot: GetMemoryMap: %r\r\n", st);
	*cap = size + MAP_SLACK * dsize;
	map = AllocatePool(*cap);
	if (!map)
		fatal(L"boot: no memory for the memory map (%ld bytes)\r\n", (UINT64)*cap);
	return map;
}

/* check_ram_first runs check_fw_ram before anything is loaded: on a
 * machine with too little RAM (QEMU's default is 128 MiB) AllocatePages
 * at the firmware's address would fail first and not say what is
 * missing. exit_boot_services checks the final map again. */
static void check_ram_first(void)
{
	UINTN size, key, dsize;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map = map_buffer(&size);
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, map, &key, &dsize, &dver);
	if (EFI_ERROR(st))
		fatal(L"boot: GetMemoryMap: %r\r\n", st);
	check_fw_ram(map, size / dsize, dsize);
	FreePool(map);
}

/* exit_boot_services reads the final memory map into e820[] and leaves
 * boot services. UEFI 2.10, 7.4 ExitBootServices: a stale MapKey gives
 * EFI_INVALID_PARAMETER, and the loader must call GetMemoryMap and
 * ExitBootServices again; after the first call it may call memory
 * allocation services only, so from then on say() uses COM1 alone. */
static UINTN exit_boot_services(EFI_HANDLE image)
{
	UINTN size, cap, key, dsize, entries = 0;
	UINT32 dver;
	EFI_MEMORY_DESCRIPTOR *map = map_buffer(&cap);
	EFI_STATUS st;

	for (int try = 1;; try++) {
		size = cap;
		st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, map, &key, &dsize, &dver);
		if (EFI_ERROR(st))
			fatal(L"boot: GetMemoryMap: %r\r\n", st);
		check_map(map, size / dsize, dsize);
		entries = convert(map, size / dsize, dsize);
		if (!entries)
			fatal(L"boot: memory map: more than %d E820 entries\r\n", MEMMAP_MAX);
		console_ok = FALSE;
		st = uefi_call_wrapper(BS->ExitBootServices, 2, image, key);
		if (!EFI_ERROR(st))
			return entries;
		if (st != EFI_INVALID_PARAMETER || try == EXIT_TRIES)
			fatal(L"boot: ExitBootServices refused: %r (try %d)\r\n", st, try);
	}
}

/* mask_interrupts leaves nothing that UEFI may have left running able to
 * interrupt the firmware before it programs the local APIC itself: the
 * local APIC timer and LINT0 (virtual-wire ExtINT from the 8259) masked
 * in their LVT entries, by MSR in x2APIC mode, and the 8259s masked
 * (OCW1 = 0xff) as stage 2 does. */
static void mask_interrupts(void)
{
	UINT64 base = rdmsr(IA32_APIC_BASE);

	if (base & APIC_BASE_EN) {
		if (base & APIC_BASE_EXTD) {
			wrmsr(X2APIC_MSR(LAPIC_LVT_TIMER), rdmsr(X2APIC_MSR(LAPIC_LVT_TIMER)) | LVT_MASKED);
			wrmsr(X2APIC_MSR(LAPIC_LVT_LINT0), rdmsr(X2APIC_MSR(LAPIC_LVT_LINT0)) | LVT_MASKED);
		} else {
			/* The base is bits 12 to MAXPHYADDR-1; those above are 0. */
			volatile UINT32 *lapic = (UINT32 *)(UINTN)(base & ~0xfffULL);
			lapic[LAPIC_LVT_TIMER / 4] |= LVT_MASKED;
			lapic[LAPIC_LVT_LINT0 / 4] |= LVT_MASKED;
		}
	}
	outb(PIC2_DATA, 0xff);
	outb(PIC1_DATA, 0xff);
}

/* start_info writes struct hvm_start_info version 1 as stage 2 does
 * (step 2), with the RSDP, which stage 2 leaves 0 for the firmware to scan
 * the BIOS areas. */
static void start_info(UINTN entries, UINT64 rsdp)
{
	UINT8 *si = (UINT8 *)START_INFO_ADDR;

	ZeroMem(si, MEMMAP_ADDR - START_INFO_ADDR);
	*(UINT32 *)(si + SI_MAGIC) = PVH_MAGIC;
	*(UINT32 *)(si + SI_VERSION) = 1;
	*(UINT64 *)(si + SI_CMDLINE_PADDR) = CMDLINE_ADDR;
	*(UINT64 *)(si + SI_RSDP_PADDR) = rsdp;
	*(UINT64 *)(si + SI_MEMMAP_PADDR) = MEMMAP_ADDR;
	*(UINT32 *)(si + SI_MEMMAP_ENTRIES) = entries;
	CopyMem((void *)MEMMAP_ADDR, e820, entries * sizeof e820[0]);
	CopyMem((void *)CMDLINE_ADDR, CMDLINE, sizeof CMDLINE);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	UINTN size, entries;
	UINT64 lo, hi, rsdp;
	UINT8 *payload;
	void (*enter)(UINT32);

	InitializeLib(image, systab);
	/* 1. */
	console_ok = TRUE;
	com1_direct = !conout_has_uart();
	if (com1_direct)
		com1_init();
	say(L"boot: ataport UEFI loader\r\n");
	/* 2. */
	payload = read_payload(image, &size);
	check_payload(payload, size, &lo, &hi);
	say(L"boot: loading firmware, %d KiB\r\n", (le32(payload + HDR_SIZE) + 1023) >> 10);
	/* 3.-5. */
	rsdp = find_rsdp();
	check_ram_first();
	load(payload, lo, hi);
	enter = trampoline();
	say(L"boot: starting firmware\r\n");
	/* 6. */
	entries = exit_boot_services(image);
	/* 7. */
	__asm__ volatile("cli");
	mask_interrupts();
	start_info(entries, rsdp);
	enter(le32(payload + HDR_ENTRY));
	halt();
}
