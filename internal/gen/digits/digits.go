// Package digits trains deep ReLU MLPs on scikit-learn's digits (8x8
// images, 10 classes; BSD-3), deterministically: He-initialized weights from
// a seeded PCG generator, mini-batch Adam on cross-entropy, a fixed
// train/test split. Deep enough models need bootstrapping once encrypted:
// they are the test models of bootstrap placement.
package digits

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/fhec/fhec/internal/onnxbuild"
)

// Data is the digits data set scaled to [0, 1] (pixels / 16).
type Data struct {
	X [][]float64
	Y []int
}

// Load reads digits.csv(.gz): 64 pixel columns (0..16) and the label.
func Load(path string) (*Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r *bufio.Scanner
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = bufio.NewScanner(z)
	} else {
		r = bufio.NewScanner(f)
	}
	d := &Data{}
	for r.Scan() {
		cols := strings.Split(strings.TrimSpace(r.Text()), ",")
		if len(cols) != 65 {
			continue // header or blank
		}
		row := make([]float64, 64)
		ok := true
		for i := range row {
			v, err := strconv.ParseFloat(cols[i], 64)
			if err != nil {
				ok = false
				break
			}
			row[i] = v / 16
		}
		y, err := strconv.Atoi(cols[64])
		if !ok || err != nil || y < 0 || y > 9 {
			continue
		}
		d.X = append(d.X, row)
		d.Y = append(d.Y, y)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(d.X) < 100 {
		return nil, fmt.Errorf("digits: %s has %d rows", path, len(d.X))
	}
	return d, nil
}

// Split returns the rows of a fixed split: every fifth row is a test row.
func (d *Data) Split() (train, test *Data) {
	train, test = &Data{}, &Data{}
	for i := range d.X {
		t := train
		if i%5 == 4 {
			t = test
		}
		t.X = append(t.X, d.X[i])
		t.Y = append(t.Y, d.Y[i])
	}
	return train, test
}

// Options of Train.
type Options struct {
	Hidden, Width int // hidden layers and their width
	Epochs        int
	Seed          uint64
}

// Train fits an MLP 64 -> Width x Hidden (ReLU) -> 10.
func Train(d *Data, o Options) (*onnxbuild.MLP, error) {
	sizes := []int{64}
	for range o.Hidden {
		sizes = append(sizes, o.Width)
	}
	sizes = append(sizes, 10)
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	L := len(sizes) - 1
	W := make([][]float64, L)
	B := make([][]float64, L)
	for l := range L {
		W[l] = make([]float64, sizes[l+1]*sizes[l])
		B[l] = make([]float64, sizes[l+1])
		s := math.Sqrt(2 / float64(sizes[l]))
		for i := range W[l] {
			W[l][i] = rng.NormFloat64() * s
		}
	}
	type adam struct{ m, v []float64 }
	mk := func(n int) adam { return adam{make([]float64, n), make([]float64, n)} }
	aw, ab := make([]adam, L), make([]adam, L)
	gw, gb := make([][]float64, L), make([][]float64, L)
	for l := range L {
		aw[l], ab[l] = mk(len(W[l])), mk(len(B[l]))
		gw[l], gb[l] = make([]float64, len(W[l])), make([]float64, len(B[l]))
	}
	const lr, b1, b2, eps, batch = 3e-3, 0.9, 0.999, 1e-8, 32
	step := 0
	update := func(p, g []float64, a adam) {
		c1 := 1 - math.Pow(b1, float64(step))
		c2 := 1 - math.Pow(b2, float64(step))
		for i := range p {
			a.m[i] = b1*a.m[i] + (1-b1)*g[i]
			a.v[i] = b2*a.v[i] + (1-b2)*g[i]*g[i]
			p[i] -= lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + eps)
		}
	}
	acts := make([][]float64, L+1)
	deltas := make([][]float64, L+1)
	order := make([]int, len(d.X))
	for i := range order {
		order[i] = i
	}
	for range o.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += batch {
			for l := range L {
				clear(gw[l])
				clear(gb[l])
			}
			end := min(start+batch, len(order))
			for _, idx := range order[start:end] {
				acts[0] = d.X[idx]
				for l := range L {
					out := make([]float64, sizes[l+1])
					for j := range out {
						s := B[l][j]
						for k, x := range acts[l] {
							s += W[l][j*sizes[l]+k] * x
						}
						if l < L-1 && s < 0 {
							s = 0
						}
						out[j] = s
					}
					acts[l+1] = out
				}
				// softmax cross-entropy
				z := acts[L]
				mx := math.Inf(-1)
				for _, v := range z {
					mx = math.Max(mx, v)
				}
				sum := 0.0
				p := make([]float64, len(z))
				for j, v := range z {
					p[j] = math.Exp(v - mx)
					sum += p[j]
				}
				for j := range p {
					p[j] /= sum
				}
				p[d.Y[idx]]--
				deltas[L] = p
				for l := L - 1; l >= 0; l-- {
					dl := deltas[l+1]
					var prev []float64
					if l > 0 {
						prev = make([]float64, sizes[l])
					}
					for j, g := range dl {
						if g == 0 {
							continue
						}
						gb[l][j] += g
						row := W[l][j*sizes[l] : (j+1)*sizes[l]]
						for k, x := range acts[l] {
							gw[l][j*sizes[l]+k] += g * x
							if prev != nil {
								prev[k] += g * row[k]
							}
						}
					}
					if prev != nil {
						for k := range prev {
							if acts[l][k] <= 0 {
								prev[k] = 0
							}
						}
					}
					deltas[l] = prev
				}
			}
			step++
			n := float64(end - start)
			for l := range L {
				for i := range gw[l] {
					gw[l][i] /= n
				}
				for i := range gb[l] {
					gb[l][i] /= n
				}
				update(W[l], gw[l], aw[l])
				update(B[l], gb[l], ab[l])
			}
		}
	}
	m, err := onnxbuild.NewRandomMLP(o.Seed, sizes, "relu", onnxbuild.WithName(fmt.Sprintf("digits_%dx%d", o.Hidden, o.Width)))
	if err != nil {
		return nil, err
	}
	for l := range L {
		for i, v := range W[l] {
			m.Weights[l][i] = float32(v)
		}
		for i, v := range B[l] {
			m.Biases[l][i] = float32(v)
		}
	}
	return m, nil
}

// Accuracy is the fraction of rows m classifies correctly.
func Accuracy(m *onnxbuild.MLP, d *Data) (float64, error) {
	ok := 0
	for i, x := range d.X {
		y, err := m.Forward(x)
		if err != nil {
			return 0, err
		}
		if vec.Argmax(y) == d.Y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(d.X)), nil
}
