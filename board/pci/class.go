package pci

// Class codes (PCI 3.0 Appendix D): base class, sub-class and, where it
// changes the kind of device, programming interface.
var (
	classNames = map[uint8]string{
		0x00: "unclassified device",
		0x01: "mass storage controller",
		0x02: "network controller",
		0x03: "display controller",
		0x04: "multimedia device",
		0x05: "memory controller",
		0x06: "bridge",
		0x07: "communication controller",
		0x08: "system peripheral",
		0x09: "input device",
		0x0c: "serial bus controller",
	}
	subclassNames = map[[2]uint8]string{
		{0x00, 0x01}: "VGA-compatible unclassified device",
		{0x01, 0x00}: "SCSI controller",
		{0x01, 0x01}: "IDE controller",
		{0x01, 0x02}: "floppy controller",
		{0x01, 0x04}: "RAID controller",
		{0x01, 0x05}: "ATA controller (ADMA)",
		{0x01, 0x06}: "SATA controller",
		{0x01, 0x07}: "SAS controller",
		{0x01, 0x08}: "non-volatile memory controller",
		{0x02, 0x00}: "Ethernet controller",
		{0x03, 0x00}: "VGA-compatible controller",
		{0x03, 0x02}: "3D controller",
		{0x04, 0x01}: "audio device",
		{0x04, 0x03}: "HD audio device",
		{0x05, 0x00}: "RAM controller",
		{0x06, 0x00}: "host bridge",
		{0x06, 0x01}: "ISA bridge",
		{0x06, 0x04}: "PCI-to-PCI bridge",
		{0x06, 0x07}: "CardBus bridge",
		{0x06, 0x80}: "other bridge",
		{0x07, 0x00}: "serial controller",
		{0x08, 0x00}: "interrupt controller",
		{0x08, 0x03}: "RTC controller",
		{0x0c, 0x03}: "USB controller",
		{0x0c, 0x05}: "SMBus controller",
	}
	progIFNames = map[[3]uint8]string{
		{0x01, 0x06, 0x01}: "SATA AHCI controller",
		{0x01, 0x08, 0x02}: "NVMe controller",
		{0x0c, 0x03, 0x00}: "USB UHCI controller",
		{0x0c, 0x03, 0x10}: "USB OHCI controller",
		{0x0c, 0x03, 0x20}: "USB EHCI controller",
		{0x0c, 0x03, 0x30}: "USB xHCI controller",
	}
)

// ClassName names a class code, as precisely as the tables know it:
// "SATA AHCI controller", "IDE controller", "bridge", "unknown class".
func ClassName(class, sub, progIF uint8) string {
	if s, ok := progIFNames[[3]uint8{class, sub, progIF}]; ok {
		return s
	}
	if s, ok := subclassNames[[2]uint8{class, sub}]; ok {
		return s
	}
	if s, ok := classNames[class]; ok {
		return s
	}
	return "unknown class"
}
