package cuda

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed kernels/*.cu kernels/*.h
var kernelFS embed.FS

// HeaderName is the portability header every kernel source includes.
const HeaderName = "fhec_cuda.h"

// Header returns the text of kernels/fhec_cuda.h.
func Header() string {
	b, err := kernelFS.ReadFile("kernels/" + HeaderName)
	if err != nil {
		panic(err) // embedded at build time
	}
	return string(b)
}

// Sources returns the embedded kernel sources (kernels/*.cu) by file name,
// and their names sorted.
func Sources() (map[string]string, []string) {
	ents, err := fs.Glob(kernelFS, "kernels/*.cu")
	if err != nil {
		panic(err)
	}
	src := map[string]string{}
	var names []string
	for _, e := range ents {
		b, err := kernelFS.ReadFile(e)
		if err != nil {
			panic(err)
		}
		name := strings.TrimPrefix(e, "kernels/")
		src[name] = string(b)
		names = append(names, name)
	}
	sort.Strings(names)
	return src, names
}

// Program returns all kernel sources as one translation unit for NVRTC
// (the header is given to NVRTC separately, under HeaderName).
func Program() string {
	src, names := Sources()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "// ---- %s ----\n%s\n", n, src[n])
	}
	return b.String()
}

// Kernel names, as declared in kernels/*.cu (extern "C", so unmangled).
const (
	KNTTForwardStage = "fhec_ntt_fwd_stage"
	KNTTInverseStage = "fhec_ntt_inv_stage"
	KAdd             = "fhec_add"
	KSub             = "fhec_sub"
	KNeg             = "fhec_neg"
	KMForm           = "fhec_to_mform"
	KMulMont         = "fhec_mul_mont"
	KMulMontAdd      = "fhec_mul_mont_add"
	KMulPlain        = "fhec_mul_plain"
	KTensor          = "fhec_tensor"
	KRescalePrep     = "fhec_rescale_prep"
	KRescaleFinish   = "fhec_rescale_finish"
	KAutomorphismNTT = "fhec_automorphism_ntt"
	KDecomposeCopy   = "fhec_decompose_copy"
	KDecomposeExt    = "fhec_decompose_ext"
	KKeySwitchDot    = "fhec_ks_dot"
	KModDownExt      = "fhec_moddown_ext"
	KModDownFinish   = "fhec_moddown_finish"
	KCopy            = "fhec_copy"
	KMulScalarMont   = "fhec_mul_scalar_mont"
	KLinearMAC       = "fhec_lin_mac"
	KLinearGiant     = "fhec_lin_giant"
)

// Kernels lists every kernel the runtime launches; each must be declared
// in exactly one kernels/*.cu file (checked by a test).
var Kernels = []string{
	KNTTForwardStage, KNTTInverseStage,
	KAdd, KSub, KNeg, KMForm, KMulMont, KMulMontAdd, KMulPlain, KTensor,
	KRescalePrep, KRescaleFinish,
	KAutomorphismNTT,
	KDecomposeCopy, KDecomposeExt, KKeySwitchDot, KModDownExt, KModDownFinish, KCopy,
	KMulScalarMont, KLinearMAC, KLinearGiant,
}

// Kernel parameter counts (every parameter is one 64-bit word).
var kernelArity = map[string]int{
	KNTTForwardStage: 12, KNTTInverseStage: 12,
	KAdd: 8, KSub: 8, KNeg: 7, KMForm: 7, KMulMont: 8, KMulMontAdd: 8,
	KMulPlain: 11, KTensor: 11,
	KRescalePrep: 8, KRescaleFinish: 9,
	KAutomorphismNTT: 5,
	KDecomposeCopy:   9, KDecomposeExt: 11, KKeySwitchDot: 12, KModDownExt: 9, KModDownFinish: 11, KCopy: 3,
	KMulScalarMont: 8, KLinearMAC: 13, KLinearGiant: 13,
}

// Arity returns the number of 64-bit parameters of kernel name.
func Arity(name string) (int, bool) {
	n, ok := kernelArity[name]
	return n, ok
}
