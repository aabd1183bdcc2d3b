// Package mnist reads the MNIST test set (IDX files, gzip-compressed) and
// preprocesses it per model, as ../shared/testdata/MANIFEST.md describes.
package mnist

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Load reads images (n x 784 bytes, row-major 28x28) and labels from the
// t10k files in dir.
func Load(dir string) (images [][]byte, labels []int, err error) {
	img, err := readGz(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	lab, err := readGz(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	if len(img) < 16 || binary.BigEndian.Uint32(img) != 0x803 {
		return nil, nil, fmt.Errorf("mnist: bad image file")
	}
	if len(lab) < 8 || binary.BigEndian.Uint32(lab) != 0x801 {
		return nil, nil, fmt.Errorf("mnist: bad label file")
	}
	n := int(binary.BigEndian.Uint32(img[4:]))
	rows, cols := int(binary.BigEndian.Uint32(img[8:])), int(binary.BigEndian.Uint32(img[12:]))
	if int(binary.BigEndian.Uint32(lab[4:])) != n || len(img) != 16+n*rows*cols || len(lab) != 8+n {
		return nil, nil, fmt.Errorf("mnist: inconsistent sizes")
	}
	for i := 0; i < n; i++ {
		images = append(images, img[16+i*rows*cols:16+(i+1)*rows*cols])
		labels = append(labels, int(lab[8+i]))
	}
	return images, labels, nil
}

func readGz(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// Preprocess returns image pixels as the model expects them: "cryptonets"
// and "mnist2x10" take pixel/255, "mnist-onnx-go" the raw 0..255 values.
// The 784 values keep their row-major order (NHWC with one channel and NCHW
// agree).
func Preprocess(model string, img []byte) ([]float64, error) {
	div := 255.0
	switch model {
	case "cryptonets", "mnist2x10":
	case "mnist-onnx-go":
		div = 1
	default:
		return nil, fmt.Errorf("mnist: unknown model %q", model)
	}
	out := make([]float64, len(img))
	for i, b := range img {
		out[i] = float64(float32(float64(b) / div))
	}
	return out, nil
}
