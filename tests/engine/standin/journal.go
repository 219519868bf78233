package standin

import (
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Op is a provider operation the engine asked for.
type Op string

// The operations a Journal records (previews are not recorded).
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpRead   Op = "read"
	OpDelete Op = "delete"
	// OpFailedCreate is a create the cloud refused: nothing was created.
	OpFailedCreate Op = "failed-create"
)

// Entry is one recorded operation; Seq orders them across every stand-in provider of a run.
type Entry struct {
	Seq  int
	Op   Op
	URN  resource.URN
	ID   string
	Type string
	Name string
}

// Journal is the shared, ordered record of what the engine did to the stand-in providers.
type Journal struct {
	mu      sync.Mutex
	entries []Entry
}

func (j *Journal) record(op Op, urn resource.URN, id string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, Entry{
		Seq: len(j.entries) + 1, Op: op, URN: urn, ID: id,
		Type: string(urn.Type()), Name: urn.Name(),
	})
}

// Entries returns every entry recorded so far, in order.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Entry(nil), j.entries...)
}

// Reset forgets every entry, so the next operation is recorded on its own.
func (j *Journal) Reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = nil
}

// Of returns the entries of one operation, in order.
func (j *Journal) Of(op Op) []Entry {
	var out []Entry
	for _, e := range j.Entries() {
		if e.Op == op {
			out = append(out, e)
		}
	}
	return out
}
