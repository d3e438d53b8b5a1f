//go:build tamago

package pc

import "github.com/ataport/firmware/board/ioport"

// MC146818 RTC registers behind the CMOS index/data ports (MC146818A
// datasheet, "Register A/B/C"; the PC/AT maps it at 0x70/0x71, IRQ 8).
const (
	CMOS_INDEX = 0x70
	CMOS_DATA  = 0x71
	// NMI_DISABLE is bit 7 of the index port on PC/AT machines; it is
	// kept clear.
	NMI_DISABLE = 7

	RTC_REG_A = 0x0a
	// RS3-RS0: periodic rate; 6 gives 1024 Hz (32.768 kHz >> (rate-1)).
	REG_A_RS   = 0
	RTC_REG_B  = 0x0b
	REG_B_PIE  = 6
	RTC_REG_C  = 0x0c
	REG_C_IRQF = 7
	REG_C_PF   = 6

	// RTCIRQ is the RTC's ISA interrupt line.
	RTCIRQ = 8
)

func cmosRead(reg uint8) uint8 {
	ioport.Out8(CMOS_INDEX, reg)
	return ioport.In8(CMOS_DATA)
}

func cmosWrite(reg, v uint8) {
	ioport.Out8(CMOS_INDEX, reg)
	ioport.Out8(CMOS_DATA, v)
}

// RTCPeriodic starts (rate 3-15, frequency 32768 >> (rate-1) Hz) or stops
// (rate 0) the RTC periodic interrupt on ISA IRQ 8, used by the interrupt
// self-test as a real device line. The caller serialises CMOS access.
func RTCPeriodic(rate uint8) {
	b := cmosRead(RTC_REG_B)
	if rate == 0 {
		cmosWrite(RTC_REG_B, b&^(1<<REG_B_PIE))
		RTCAck()
		return
	}
	a := cmosRead(RTC_REG_A)
	cmosWrite(RTC_REG_A, a&0xf0|rate&0x0f)
	cmosWrite(RTC_REG_B, b|1<<REG_B_PIE)
	RTCAck()
}

// RTCAck reads register C, which acknowledges the interrupt (the RTC holds
// IRQ 8 asserted until then), and reports whether a periodic interrupt was
// flagged.
func RTCAck() (periodic bool) {
	return cmosRead(RTC_REG_C)&(1<<REG_C_PF) != 0
}
