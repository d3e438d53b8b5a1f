module github.com/ataport/firmware

go 1.26.0

tool github.com/usbarmory/tamago/cmd/tamago

require (
	github.com/diskfs/go-diskfs v1.7.0
	github.com/kdomanski/iso9660 v0.4.0
	github.com/usbarmory/tamago v1.26.0
	golang.org/x/arch v0.32.0
)

require (
	github.com/anchore/go-lzo v0.1.0 // indirect
	github.com/djherbis/times v1.6.0 // indirect
	github.com/elliotwutingfeng/asciiset v0.0.0-20230602022725-51bbb787efab // indirect
	github.com/google/uuid v1.3.0 // indirect
	github.com/klauspost/compress v1.17.4 // indirect
	github.com/pierrec/lz4/v4 v4.1.17 // indirect
	github.com/pkg/xattr v0.4.9 // indirect
	github.com/sirupsen/logrus v1.9.4-0.20230606125235-dd1b4c2e81af // indirect
	github.com/ulikunitz/xz v0.5.11 // indirect
	golang.org/x/sys v0.19.0 // indirect
)
