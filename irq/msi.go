package irq

import (
	"errors"

	"github.com/ataport/firmware/kernel"
)

// Message Signalled Interrupts (Intel SDM Vol. 3A, chapter "Advanced
// Programmable Interrupt Controller (APIC)", "Message Signalled
// Interrupts": 10.11 / 11.11 by edition). A device writes the data to the
// address; the address selects the local APIC, the data the vector. No
// IOAPIC pin is involved, so the mask that synchronized routines need is
// the device's own: the MSI capability's per-vector mask bit when it has
// one, else an interrupt enable in the device, read back (MaskHook).

// MSI message address and data fields (SDM 10.11.1 "Message Address
// Register Format", 10.11.2 "Message Data Register Format").
const (
	MSI_ADDR_BASE   = 0xfee00000 // bits 31:20 are 0FEEh
	MSI_ADDR_DEST   = 12         // destination APIC ID, bits 19:12
	MSI_DATA_TRIG   = 15         // trigger mode: 0 edge
	MSI_DATA_DELMOD = 8          // delivery mode, bits 10:8: 000 fixed
)

// MaskHook masks and unmasks an interrupt that has no IOAPIC pin, at the
// device, for SynchronizeMasked and Masked.
type MaskHook struct {
	// Set masks (true) or unmasks (false) the interrupt and returns
	// whether it reads back masked.
	//
	// Context: the interrupt's DIRQL with its lock held, or PASSIVE
	// before the device interrupts; must not block or allocate.
	Set func(masked bool) bool

	// Masked reads the mask back.
	//
	// Context: any IRQL; must not block or allocate.
	Masked func() bool
}

// MSIMessage is what a device's MSI capability is programmed with.
type MSIMessage struct {
	Address uint64
	Data    uint16
}

// ConnectMSI connects isr to a vector of class dirql that a device
// raises by MSI (IoConnectInterruptEx with CONNECT_MESSAGE_BASED) and
// returns the message to program into the device: destination BSPAPICID,
// as for the IOAPIC lines, physical destination mode, fixed delivery,
// edge. mask is how SynchronizeMasked masks the interrupt at
// the device and Masked reads it back.
//
// Context: PASSIVE, IF=1; may block and allocate. Returns an error before
// Init, for a level outside DIRQLMin..DIRQLMax, a nil isr or mask, or when
// the class has no free vector.
func ConnectMSI(name string, dirql kernel.IRQL, isr ISR, mask MaskHook) (*Interrupt, MSIMessage, error) {
	kernel.AssertLevel("irq.ConnectMSI", kernel.PASSIVE, kernel.PASSIVE)
	if !dirql.DIRQL() {
		return nil, MSIMessage{}, errors.New("irq: ConnectMSI(" + name + "): " + dirql.String() + ": " +
			errLevelRange.Error() + ", want DIRQL3..DIRQL12")
	}
	if isr == nil || mask.Set == nil || mask.Masked == nil {
		return nil, MSIMessage{}, errors.New("irq: ConnectMSI(" + name + "): nil ISR or mask hook")
	}
	mu.Lock()
	defer mu.Unlock()
	if local == nil {
		return nil, MSIMessage{}, errNotInit
	}
	i, err := newInterrupt(name, dirql, isr)
	if err != nil {
		return nil, MSIMessage{}, err
	}
	i.mask = &mask
	return i, MSIMessage{
		Address: MSI_ADDR_BASE | BSPAPICID<<MSI_ADDR_DEST,
		Data:    uint16(i.vector) | 0<<MSI_DATA_DELMOD | 0<<MSI_DATA_TRIG,
	}, nil
}
