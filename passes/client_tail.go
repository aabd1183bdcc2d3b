package passes

import (
	"fmt"
	"strings"

	"github.com/fhec/fhec/ir"
)

// ClientTail moves the argmax-preserving ops at the end of the graph
// (softmax, logsoftmax, argmax on the result) to the client: the server
// returns the logits, and the client applies these ops after decryption,
// where they are exact and cheap. Each moved op is recorded on the result as
// the function attribute result<i>_client_ops (e.g. "softmax axis=1"), which
// the plan carries and fhec's client applies.
//
// Requires: tensor-level IR.
// Guarantees: no result is produced by softmax/logsoftmax/argmax; applying
// the recorded ops, in order, to the new result gives the old one.
type ClientTail struct{}

func (ClientTail) Name() string { return "client-tail" }

var clientOps = map[string]bool{"softmax": true, "logsoftmax": true, "argmax": true}

func (ClientTail) Run(f *ir.Func, c *Context) error {
	users := f.Users()
	for i, r := range f.Results {
		var tail []string
		for r.Def != nil && clientOps[r.Def.Code] && len(users[r]) == 0 {
			op := r.Def
			desc := op.Code
			for _, k := range []string{"axis", "keepdims", "select_last_index"} {
				if v, ok := op.Attrs[k].(int64); ok {
					desc += fmt.Sprintf(" %s=%d", k, v)
				}
			}
			tail = append([]string{desc}, tail...)
			r = op.Args[0]
			if len(users[r]) > 1 {
				break
			}
		}
		if len(tail) == 0 {
			continue
		}
		f.Results[i] = r
		f.Attrs[fmt.Sprintf("result%d_client_ops", i)] = strings.Join(tail, "; ")
		c.Warn("result %d: %s run on the client after decryption (they preserve the argmax)", i, strings.Join(tail, ", "))
	}
	f.RemoveDead()
	return nil
}
