package collector

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestCounter is a kgo hook that counts the requests and bytes the client
// writes, by API key. It counts every write attempt, retries included: that
// is what the cluster pays for.
type requestCounter struct {
	mu       sync.Mutex
	requests map[int16]*atomic.Uint64
	written  atomic.Uint64
	read     atomic.Uint64
}

var (
	_ kgo.HookBrokerWrite = (*requestCounter)(nil)
	_ kgo.HookBrokerRead  = (*requestCounter)(nil)
)

func newRequestCounter() *requestCounter {
	return &requestCounter{requests: map[int16]*atomic.Uint64{}}
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, bytesWritten int, _, _ time.Duration, _ error) {
	c.mu.Lock()
	n, ok := c.requests[key]
	if !ok {
		n = new(atomic.Uint64)
		c.requests[key] = n
	}
	c.mu.Unlock()
	n.Add(1)
	if bytesWritten > 0 {
		c.written.Add(uint64(bytesWritten))
	}
}

func (c *requestCounter) OnBrokerRead(_ kgo.BrokerMetadata, _ int16, bytesRead int, _, _ time.Duration, _ error) {
	if bytesRead > 0 {
		c.read.Add(uint64(bytesRead))
	}
}

// RequestCount is the cumulative number of requests sent for one Kafka API.
type RequestCount struct {
	API   string // Kafka's API name, e.g. "ListOffsets"
	Count uint64
}

// snapshot returns the cumulative counts sorted by API name.
func (c *requestCounter) snapshot() []RequestCount {
	c.mu.Lock()
	out := make([]RequestCount, 0, len(c.requests))
	for k, n := range c.requests {
		out = append(out, RequestCount{API: kmsg.NameForKey(k), Count: n.Load()})
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].API < out[j].API })
	return out
}
