package runtime

import (
	"fmt"
	"sync"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/fhec/fhec/plan/planpb"
)

// dag is the dependency structure of a plan's program (ENCODE excluded),
// built once per Context: it lets one group's independent instructions (the
// baby steps and giant steps of a dense layer, the branches of a max-pool
// tournament) run on several workers at once.
type dag struct {
	nodes []int   // instruction indices, program order
	deps  []int   // deps[k]: unfinished predecessors of nodes[k]
	succ  [][]int // succ[k]: indices into nodes
	// hoistedBy[k] >= 0: node k is a ROTATE (DOT) computed by the hoisted
	// rotation (DOT) group of node hoistedBy[k], so it depends on it and
	// does no work itself.
	hoistedBy []int
	uses      map[uint32]int // value id -> number of reading nodes (+1 if a plan output)
}

func (c *Context) buildDAG() *dag {
	prog := c.plan.Program
	d := &dag{uses: map[uint32]int{}}
	node := map[uint32]int{} // value id -> defining node
	pcNode := map[int]int{}
	for pc, ins := range prog {
		if ins.Op == planpb.Op_ENCODE {
			continue
		}
		k := len(d.nodes)
		d.nodes = append(d.nodes, pc)
		d.deps = append(d.deps, 0)
		d.succ = append(d.succ, nil)
		d.hoistedBy = append(d.hoistedBy, -1)
		pcNode[pc] = k
		seen := map[int]bool{}
		for _, a := range ins.Args {
			if c.info[a].Plain {
				continue
			}
			d.uses[a]++
			if p, ok := node[a]; ok && !seen[p] {
				seen[p] = true
				d.deps[k]++
				d.succ[p] = append(d.succ[p], k)
			}
		}
		node[ins.Result] = k
	}
	// The members of a hoisted-rotation or DOT group are computed by its
	// first instruction: they depend on it and do no work themselves.
	for first := range prog {
		group := c.group(first)
		if group == nil || group[0] != first {
			continue
		}
		f := pcNode[first]
		for _, pc := range group[1:] {
			k := pcNode[pc]
			d.hoistedBy[k] = f
			d.deps[k]++
			d.succ[f] = append(d.succ[f], k)
		}
	}
	for _, r := range c.outRows {
		d.uses[r.value]++
	}
	return d
}

// runDAG evaluates group g with workers goroutines sharing the instruction
// stream: an instruction starts as soon as its operands exist. Each
// goroutine uses its own worker (own evaluator).
func (c *Context) runDAG(ws []*worker, in, out *Ciphertexts, g int) error {
	c.dagOnce.Do(func() { c.dag = c.buildDAG() })
	d := c.dag
	prog := c.plan.Program
	n := len(d.nodes)
	vals := make([]*rlwe.Ciphertext, c.plan.NumValues)
	for r, row := range c.inRows {
		vals[row.value] = in.values[r][g]
	}
	deps := append([]int(nil), d.deps...)
	uses := make(map[uint32]int, len(d.uses))
	for k, v := range d.uses {
		uses[k] = v
	}
	hoisted := map[int]*rlwe.Ciphertext{}
	// Ready instructions wait on a stack: the successors of the one just
	// finished run first (depth first), so a value's readers follow it
	// closely and it is freed early. In program order, a breadth-first
	// queue would compute every output of a wide layer before any of
	// their readers (a feature-major convolution: 980 ciphertexts live at
	// once).
	var (
		mu      sync.Mutex
		wake    = sync.NewCond(&mu)
		stack   []int
		running int // instructions being executed
		done    int
		first   error
		wg      sync.WaitGroup
	)
	for k := n - 1; k >= 0; k-- { // the first in program order on top
		if deps[k] == 0 {
			stack = append(stack, k)
		}
	}
	for _, w := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for {
				mu.Lock()
				for len(stack) == 0 && done < n {
					wake.Wait()
				}
				if len(stack) == 0 {
					mu.Unlock()
					return
				}
				k := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				pc := d.nodes[k]
				ins := prog[pc]
				t0 := time.Now()
				var res *rlwe.Ciphertext
				var err error
				failed := first != nil
				running++
				w.alone = running == 1 && len(stack) == 0
				mu.Unlock()
				if !failed {
					switch {
					case d.hoistedBy[k] >= 0:
						mu.Lock()
						res = hoisted[pc]
						delete(hoisted, pc)
						mu.Unlock()
						if res == nil {
							err = fmt.Errorf("hoisted rotation result missing")
						}
					case c.group(pc) != nil:
						local := map[int]*rlwe.Ciphertext{}
						mu.Lock()
						view := vals // operands are final once their producers finished
						mu.Unlock()
						if err = w.runGroup(c.group(pc), view, local); err == nil {
							res = local[pc]
							mu.Lock()
							for p, r := range local {
								if p != pc {
									hoisted[p] = r
								}
							}
							mu.Unlock()
						}
					default:
						mu.Lock()
						view := vals
						mu.Unlock()
						res, err = w.exec(ins, view)
					}
				}
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("runtime: group %d: instruction %d (%v -> value %d): %w", g, pc, ins.Op, ins.Result, err)
				}
				if err == nil && !failed {
					w.time[ins.Op] += time.Since(t0)
					w.instr[ins.Op]++
					vals[ins.Result] = res
					if d.uses[ins.Result] == 0 {
						vals[ins.Result] = nil
					}
					for _, a := range ins.Args {
						if _, counted := uses[a]; counted && !c.info[a].Plain {
							if uses[a]--; uses[a] == 0 {
								vals[a] = nil // last reader done
							}
						}
					}
				}
				running--
				succ := d.succ[k]
				for i := len(succ) - 1; i >= 0; i-- { // the first in program order on top
					s := succ[i]
					if deps[s]--; deps[s] == 0 {
						stack = append(stack, s)
					}
				}
				done++
				wake.Broadcast()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if first != nil {
		return first
	}
	for r, row := range c.outRows {
		out.values[r][g] = vals[row.value]
	}
	return nil
}
