package images

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func TestFit(t *testing.T) {
	tests := []struct{ w, h, side, wantW, wantH int }{
		{100, 50, 320, 100, 50}, // never upscales
		{1000, 500, 320, 320, 160},
		{500, 1000, 320, 160, 320},
		{320, 320, 320, 320, 320},
		{10000, 1, 320, 320, 1}, // never zero
	}
	for _, tt := range tests {
		if w, h := fit(tt.w, tt.h, tt.side); w != tt.wantW || h != tt.wantH {
			t.Errorf("fit(%d, %d, %d) = %d×%d, want %d×%d", tt.w, tt.h, tt.side, w, h, tt.wantW, tt.wantH)
		}
	}
}

func TestThumbnailOfPNG(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 800, 400))
	for x := range 800 {
		for y := range 400 {
			src.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var in bytes.Buffer
	if err := png.Encode(&in, src); err != nil {
		t.Fatal(err)
	}
	out, err := Thumbnail(in.Bytes(), 320)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output is not a JPEG: %v", err)
	}
	if b := got.Bounds(); b.Dx() != 320 || b.Dy() != 160 {
		t.Fatalf("thumbnail is %v, want 320×160", b)
	}
}

func TestThumbnailRejectsBadInput(t *testing.T) {
	if _, err := Thumbnail(pngOf(t, 1, maxSide+1), 320); err != ErrTooLarge {
		t.Errorf("a side over %d: err = %v, want ErrTooLarge", maxSide, err)
	}
	if _, err := Thumbnail([]byte("not an image"), 320); err == nil {
		t.Error("garbage decoded")
	}
	// A PNG header claiming 100000×100000 pixels: refused before any pixel is decoded.
	var bomb bytes.Buffer
	if err := png.Encode(&bomb, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := bomb.Bytes()
	copy(b[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0}) // IHDR width and height
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	if _, err := Thumbnail(b, 320); err != ErrTooLarge {
		t.Errorf("bomb: err = %v, want ErrTooLarge", err)
	}
}

// cost never exceeds MaxDecodeBytes for any image size accepts, so the budget always admits it.
func TestCostIsBoundedByMaxDecodeBytes(t *testing.T) {
	var worst int64
	for w := 1; w <= maxSide; w += 7 {
		h := min(maxSide, maxPixels/w)
		for _, hh := range []int{1, h / 2, h} {
			if hh >= 1 {
				worst = max(worst, cost(w, hh))
			}
		}
	}
	if worst > MaxDecodeBytes {
		t.Fatalf("worst cost %d > MaxDecodeBytes %d", worst, MaxDecodeBytes)
	}
	if worst < MaxDecodeBytes*9/10 {
		t.Errorf("worst cost %d is far below MaxDecodeBytes %d: the bound is loose", worst, MaxDecodeBytes)
	}
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
