package cuda

import "testing"

// TestReduceMode: reducing at term cnt when cnt%F == F-1 or cnt is the
// last is exactly Lattigo's loops (MultiplyByDiagMatrixBSGS,
// GadgetProductLazy): a reduction inside the loop at cnt%F == F-1, and one
// after it when cnt%F != 0 for the final count. (The schedule only
// prevents 64-bit overflow, which the ciphertext tests cannot observe with
// their moduli, so it is checked here against a transcription of the loop.)
func TestReduceMode(t *testing.T) {
	for F := 1; F <= 9; F++ {
		for n := 1; n <= 30; n++ {
			want := make([]bool, n) // a reduction right after term i
			cnt := 0
			for i := range n {
				if cnt%F == F-1 {
					want[i] = true
				}
				cnt++
			}
			if cnt%F != 0 {
				want[n-1] = true
			}
			for i := range n {
				m := reduceMode(i, n, F, F)
				if got := m&linReduceQ != 0; got != want[i] || (m&linReduceP != 0) != want[i] {
					t.Fatalf("F=%d n=%d term %d: reduce %v, Lattigo %v", F, n, i, got, want[i])
				}
			}
		}
	}
}
