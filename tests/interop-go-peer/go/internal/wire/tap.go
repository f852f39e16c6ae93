// Package wire watches the yamux frames that cross one connection, from the Go side: a net.Conn
// wrapper that decodes every frame header in both directions (protocol.md §2.2: 12-byte big-endian
// header, version u8, type u8, flags u16, stream id u32, length u32; only Data frames carry a
// body), counts what it sees, and can hold back Go's writes to simulate a slow link.
package wire

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Frame types and flags of yamux v0.
const (
	TypeData         = 0
	TypeWindowUpdate = 1
	TypePing         = 2
	TypeGoAway       = 3

	FlagSYN = 1
	FlagACK = 2
	FlagFIN = 4
	FlagRST = 8
)

const headerSize = 12

// DirStats counts the frames sent in one direction.
type DirStats struct {
	Frames         int      `json:"frames"`
	Bytes          int64    `json:"bytes"`
	BadVersion     int      `json:"badVersion"`
	Data           int      `json:"data"`
	DataBytes      int64    `json:"dataBytes"`
	MaxDataFrame   uint32   `json:"maxDataFrame"`
	WindowUpdates  int      `json:"windowUpdates"`  // type 1 frames without SYN/ACK/FIN/RST
	WindowDelta    int64    `json:"windowDelta"`    // sum of their deltas
	MaxWindowDelta uint32   `json:"maxWindowDelta"` // largest single delta (any type-1 frame)
	SYN            int      `json:"syn"`
	ACK            int      `json:"ack"`
	FIN            int      `json:"fin"`
	RST            int      `json:"rst"`
	SynOddIDs      int      `json:"synOddIds"`
	SynEvenIDs     int      `json:"synEvenIds"`
	PingSYN        int      `json:"pingSyn"`
	PingACK        int      `json:"pingAck"`
	PingIDs        []uint32 `json:"pingIds"` // first 32 ping ids (SYN and ACK)
	GoAwayCodes    []uint32 `json:"goAwayCodes"`
	FirstBytes     string   `json:"firstBytes"` // hex of the first 96 bytes
}

// Stats is a snapshot of both directions. "in" is what the TS peer sent, "out" what Go sent.
type Stats struct {
	In  DirStats `json:"in"`
	Out DirStats `json:"out"`
	// AckDelaysMs: for streams Go opened, the time from Go's SYN to the peer's first ACK.
	AckDelaysMs []float64 `json:"ackDelaysMs"`
	// ResetStreams: the first 8 streams Go sent an RST on.
	ResetStreams []uint32 `json:"resetStreams"`
	// MaxPendingPeerSyns: the most streams the peer had opened that Go had neither ACKed nor reset
	// (hashicorp's accept backlog holds 256).
	MaxPendingPeerSyns int `json:"maxPendingPeerSyns"`
}

// Trace, when WIRE_TRACE=1, prints every frame header with its time to stderr (debugging aid).
var Trace = os.Getenv("WIRE_TRACE") == "1"

var traceStart = time.Now()

var typeNames = []string{"Data", "WinUpd", "Ping", "GoAway"}

type parser struct {
	dir     string
	hdr     [headerSize]byte
	have    int
	skip    uint32 // body bytes of the current Data frame still to skip
	stats   *DirStats
	first   []byte
	onFrame func(typ uint8, flags uint16, id, length uint32)
}

func (p *parser) feed(b []byte) {
	p.stats.Bytes += int64(len(b))
	if len(p.first) < 96 {
		n := 96 - len(p.first)
		if n > len(b) {
			n = len(b)
		}
		p.first = append(p.first, b[:n]...)
		p.stats.FirstBytes = hex.EncodeToString(p.first)
	}
	for len(b) > 0 {
		if p.skip > 0 {
			n := uint32(len(b))
			if n > p.skip {
				n = p.skip
			}
			p.skip -= n
			b = b[n:]
			continue
		}
		n := copy(p.hdr[p.have:], b)
		p.have += n
		b = b[n:]
		if p.have < headerSize {
			return
		}
		p.have = 0
		version := p.hdr[0]
		typ := p.hdr[1]
		flags := binary.BigEndian.Uint16(p.hdr[2:4])
		id := binary.BigEndian.Uint32(p.hdr[4:8])
		length := binary.BigEndian.Uint32(p.hdr[8:12])
		p.record(version, typ, flags, id, length)
		if typ == TypeData {
			p.skip = length
		}
	}
}

func (p *parser) record(version, typ uint8, flags uint16, id, length uint32) {
	s := p.stats
	s.Frames++
	if version != 0 {
		s.BadVersion++
	}
	if flags&FlagSYN != 0 && (typ == TypeData || typ == TypeWindowUpdate) {
		s.SYN++
		if id%2 == 1 {
			s.SynOddIDs++
		} else {
			s.SynEvenIDs++
		}
	}
	if flags&FlagACK != 0 && (typ == TypeData || typ == TypeWindowUpdate) {
		s.ACK++
	}
	if flags&FlagFIN != 0 {
		s.FIN++
	}
	if flags&FlagRST != 0 {
		s.RST++
	}
	switch typ {
	case TypeData:
		s.Data++
		s.DataBytes += int64(length)
		if length > s.MaxDataFrame {
			s.MaxDataFrame = length
		}
	case TypeWindowUpdate:
		if flags == 0 {
			s.WindowUpdates++
			s.WindowDelta += int64(length)
		}
		if length > s.MaxWindowDelta {
			s.MaxWindowDelta = length
		}
	case TypePing:
		if flags&FlagSYN != 0 {
			s.PingSYN++
		}
		if flags&FlagACK != 0 {
			s.PingACK++
		}
		if len(s.PingIDs) < 32 {
			s.PingIDs = append(s.PingIDs, length)
		}
	case TypeGoAway:
		s.GoAwayCodes = append(s.GoAwayCodes, length)
	}
	if Trace {
		name := "?"
		if int(typ) < len(typeNames) {
			name = typeNames[typ]
		}
		fmt.Fprintf(os.Stderr, "[wire %9.3fms] %s %-6s flags=%x sid=%d len=%d\n",
			float64(time.Since(traceStart).Microseconds())/1000, p.dir, name, flags, id, length)
	}
	if p.onFrame != nil {
		p.onFrame(typ, flags, id, length)
	}
}

// Conn is a net.Conn that decodes the yamux frames passing through it.
type Conn struct {
	net.Conn
	mu      sync.Mutex
	in, out parser
	stats   Stats
	synAt   map[uint32]time.Time // Go-opened streams waiting for the peer's ACK
	peerSyn map[uint32]struct{}  // peer-opened streams waiting for Go's ACK or RST
	delayNs atomic.Int64
	writeMu sync.Mutex
}

// NewConn wraps c.
func NewConn(c net.Conn) *Conn {
	t := &Conn{Conn: c, synAt: map[uint32]time.Time{}, peerSyn: map[uint32]struct{}{}}
	t.in.dir, t.out.dir = "peer->go", "go->peer"
	t.in.stats = &t.stats.In
	t.out.stats = &t.stats.Out
	t.out.onFrame = func(typ uint8, flags uint16, id, _ uint32) {
		if typ == TypeWindowUpdate && flags&FlagSYN != 0 {
			t.synAt[id] = time.Now()
		}
		if flags&FlagRST != 0 && len(t.stats.ResetStreams) < 8 {
			t.stats.ResetStreams = append(t.stats.ResetStreams, id)
		}
		if (typ == TypeWindowUpdate || typ == TypeData) && flags&(FlagACK|FlagRST) != 0 {
			delete(t.peerSyn, id)
		}
	}
	t.in.onFrame = func(typ uint8, flags uint16, id, _ uint32) {
		if (typ == TypeWindowUpdate || typ == TypeData) && flags&FlagSYN != 0 {
			t.peerSyn[id] = struct{}{}
			if len(t.peerSyn) > t.stats.MaxPendingPeerSyns {
				t.stats.MaxPendingPeerSyns = len(t.peerSyn)
			}
		}
		if (typ == TypeWindowUpdate || typ == TypeData) && flags&FlagACK != 0 {
			if at, ok := t.synAt[id]; ok {
				delete(t.synAt, id)
				t.stats.AckDelaysMs = append(t.stats.AckDelaysMs, float64(time.Since(at).Microseconds())/1000)
			}
		}
	}
	return t
}

// SetWriteDelay holds back every later write of Go's by d (0 turns it off): a slow link.
func (t *Conn) SetWriteDelay(d time.Duration) { t.delayNs.Store(int64(d)) }

func (t *Conn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if n > 0 {
		t.mu.Lock()
		t.in.feed(b[:n])
		t.mu.Unlock()
	}
	return n, err
}

func (t *Conn) Write(b []byte) (int, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if d := t.delayNs.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	t.mu.Lock()
	t.out.feed(b)
	t.mu.Unlock()
	return t.Conn.Write(b)
}

// Snapshot returns a copy of the counters.
func (t *Conn) Snapshot() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.In.PingIDs = append([]uint32(nil), s.In.PingIDs...)
	s.Out.PingIDs = append([]uint32(nil), s.Out.PingIDs...)
	s.In.GoAwayCodes = append([]uint32(nil), s.In.GoAwayCodes...)
	s.Out.GoAwayCodes = append([]uint32(nil), s.Out.GoAwayCodes...)
	s.AckDelaysMs = append([]float64(nil), s.AckDelaysMs...)
	s.ResetStreams = append([]uint32(nil), s.ResetStreams...)
	if s.In.PingIDs == nil {
		s.In.PingIDs = []uint32{}
	}
	if s.Out.PingIDs == nil {
		s.Out.PingIDs = []uint32{}
	}
	if s.In.GoAwayCodes == nil {
		s.In.GoAwayCodes = []uint32{}
	}
	if s.Out.GoAwayCodes == nil {
		s.Out.GoAwayCodes = []uint32{}
	}
	if s.AckDelaysMs == nil {
		s.AckDelaysMs = []float64{}
	}
	if s.ResetStreams == nil {
		s.ResetStreams = []uint32{}
	}
	return s
}
