package http

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
)

// favicon draws a 16×16 icon in the application's colour — a disc, a ring
// or a rounded square by shape — and wraps the PNG in an ICO container, as
// modern favicon.ico files are. It is drawn here, not copied from any
// product, so it only has to look plausible in a browser tab.
func favicon(rgb [3]uint8, shape int) []byte {
	const n = 16
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	fg := color.NRGBA{rgb[0], rgb[1], rgb[2], 0xff}
	for y := range n {
		for x := range n {
			dx, dy := float64(x)-7.5, float64(y)-7.5
			d := dx*dx + dy*dy
			var on bool
			switch shape {
			case 0: // disc
				on = d <= 56
			case 1: // ring
				on = d <= 56 && d >= 20
			default: // rounded square
				on = !(x < 2 && y < 2 || x > 13 && y < 2 || x < 2 && y > 13 || x > 13 && y > 13)
			}
			if on {
				img.SetNRGBA(x, y, fg)
			}
		}
	}
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, img); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	var b bytes.Buffer
	// ICONDIR: reserved, type 1 (icon), one image.
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, 1})
	// ICONDIRENTRY: 16×16, no palette, 1 plane, 32 bpp, size, offset 22.
	b.Write([]byte{n, n, 0, 0})
	binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})
	binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(pngBytes.Len()), 22})
	b.Write(pngBytes.Bytes())
	return b.Bytes()
}
