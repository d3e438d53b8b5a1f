module github.com/ataport/firmware

go 1.26.0

tool github.com/usbarmory/tamago/cmd/tamago

require (
	github.com/kdomanski/iso9660 v0.4.0
	github.com/usbarmory/tamago v1.26.0
	golang.org/x/arch v0.32.0
)
