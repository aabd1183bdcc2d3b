// Package baseline is the hand-written Lattigo v5 encrypted inference that
// fhec's compiled plan must beat: a 784 -> 128 -> 10 MLP (activation x², or
// ReLU replaced by a degree-7 polynomial), one sample per ciphertext (latency
// mode), written the way an expert would, with its own operation counts.
// BenchmarkMLP784 runs it beside fhec's plan of the same ONNX model.
//
// # Parameters (logN 13, 128-bit)
//
// The HomomorphicEncryption.org standard allows log2(QP) <= 218 at N = 2^13
// for a uniform ternary secret (Lattigo's default). The number of primes, not
// their size, sets the cost, so there is exactly one prime per level and one
// key-switching prime P, and the 218 bits are split for precision:
//
//	x²    (depth 3): LogQ [48, 40, 40, 40], LogP [49]: 217 bits, scale 2^40
//	relu7 (depth 5): LogQ [38, 28, 28, 28, 28, 28], LogP [40]: 218 bits, scale 2^28
//
// q0 keeps 8 to 10 bits above the scale for the outputs (|y| < 1 here). P is
// taken just above q0 rather than at 60 bits: with RNS digits below 2^q0 the
// gadget noise sqrt(N)·σ·q0/P is then about the rescale rounding noise, and
// the 20 bits saved go to the scale (2^28 instead of 2^25 for relu7).
// Measured output error (TestBaselineMatchesModel): x² about 2^-25,
// relu7 about 2^-13 absolute on logits of magnitude ~0.3; Baseline.ErrorStd
// predicts it from the parameters.
//
// # Layout and dense layers
//
// The 4096 slots hold the input padded to 1024 and replicated 4 times. Layer
// 1 is the diagonal method with diagonals at the stride-32 offsets 32c
// (c < 32): slot j accumulates row j/32's products with the 32 columns
// (j+32c) mod 1024, so the 4 copies of x work on 4 different groups of 32
// rows and only 32 plaintext products are needed (the minimum: 128 x 1024
// products / 4096 slots), against 128 for the Halevi-Shoup hybrid on a
// 1024-slot period. The 32 diagonals run as one Lattigo
// LinearTransformation (double-hoisted BSGS: 7 hoisted baby steps, 3 giant
// steps), then a rescale and a rotate-and-add by 1, 2, 4, 8, 16 leaves h_r in
// slot 32r (the other slots hold partial sums nobody reads). For relu7 the
// change of variable t = z/2 of the [-2, 2] Chebyshev series is folded into
// W1 and B1, so the polynomial (Lattigo PolynomialEvaluator, 3 levels)
// costs no extra level. Layer 2 works on the lattice of slots 32r: the
// hybrid diagonal method with 16 diagonals 32c (zero off the lattice, which
// masks the partial sums), as one LinearTransformation (7 hoisted baby
// steps, 1 giant step), a rescale, and a rotate-and-add by 512, 1024, 2048:
// y_o is in slot 32o. Biases are one plaintext addition per layer.
//
// Per evaluation: 26 rotations (14 of them hoisted baby steps), 48
// plaintext products, 17 rotation keys; x² adds 1 ciphertext product, relu7
// the polynomial's 5. Plaintexts are encoded once, when the model is loaded
// (New), not per evaluation.
package baseline
