package flightserver

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// pieces splits b at random places into a BufferSlice, as gRPC hands a
// message over (one buffer per HTTP/2 frame, or any other cut).
func pieces(r *rand.Rand, b []byte) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		n := 1 + r.IntN(min(len(b), 1+r.IntN(3000)))
		out = append(out, mem.SliceBuffer(bytes.Clone(b[:n])))
		b = b[n:]
	}
	return out
}

func randomBytes(r *rand.Rand, max int) []byte {
	if r.IntN(4) == 0 {
		return nil
	}
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestFlightCodecUnmarshal decodes random FlightData messages, cut into
// random pieces, as proto.Unmarshal does, unknown fields skipped.
func TestFlightCodecUnmarshal(t *testing.T) {
	codec := newFlightCodec()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		want := &flight.FlightData{DataHeader: randomBytes(r, 300), AppMetadata: randomBytes(r, 50), DataBody: randomBytes(r, 20000)}
		if r.IntN(3) == 0 {
			want.FlightDescriptor = &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: randomBytes(r, 100)}
		}
		wire, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if r.IntN(3) == 0 { // a field from a newer Flight.proto, and one repeated
			wire = protowire.AppendTag(wire, 77, protowire.VarintType)
			wire = protowire.AppendVarint(wire, 12345)
			wire = protowire.AppendTag(wire, 78, protowire.BytesType)
			wire = protowire.AppendBytes(wire, []byte("later"))
			wire = protowire.AppendTag(wire, fieldDataHeader, protowire.BytesType)
			wire = protowire.AppendBytes(wire, []byte("last one wins"))
		}
		ref := &flight.FlightData{}
		if err := proto.Unmarshal(wire, ref); err != nil {
			t.Fatal(err)
		}
		got := &flight.FlightData{DataBody: []byte("left from before")}
		if err := codec.Unmarshal(pieces(r, wire), got); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		ref.ProtoReflect().SetUnknown(nil)
		if !proto.Equal(got, ref) {
			t.Fatalf("message %d: decoded %v, want %v", i, got, ref)
		}
	}
}

func TestFlightCodecUnmarshalMalformed(t *testing.T) {
	codec := newFlightCodec()
	wire, err := proto.Marshal(&flight.FlightData{DataHeader: []byte("header"), DataBody: bytes.Repeat([]byte{7}, 100)})
	if err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < len(wire); cut++ {
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire[:cut])}, &flight.FlightData{}); err == nil && proto.Unmarshal(wire[:cut], &flight.FlightData{}) != nil {
			t.Fatalf("cut at %d: no error, proto.Unmarshal has one", cut)
		}
	}
}

// TestOutgoingBatchWire checks that a batch marshalled from its pieces is
// the bytes proto.Marshal writes for the same FlightData, that size is its
// length, and that done runs once, when gRPC frees the message.
func TestOutgoingBatchWire(t *testing.T) {
	codec := newFlightCodec()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 100 {
		var parts [][]byte
		for range r.IntN(6) {
			parts = append(parts, randomBytes(r, 5000))
		}
		header := randomBytes(r, 400)
		calls := 0
		b := &outgoingBatch{header: header, body: parts, done: func() { calls++ }}
		data, err := codec.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.Marshal(&flight.FlightData{DataHeader: header, DataBody: bytes.Join(parts, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Fatalf("batch %d: wire bytes differ from proto.Marshal's (%d vs %d bytes)", i, len(got), len(want))
		}
		if b.size() != len(want) {
			t.Fatalf("batch %d: size %d, wire %d bytes", i, b.size(), len(want))
		}
		data.Ref() // gRPC's transport holds it...
		data.Free()
		if calls != 0 {
			t.Fatalf("batch %d: done ran while a reference was held", i)
		}
		data.Free() // ...until its loopy writer has copied it
		b.finish()  // and the call giving up later changes nothing
		if calls != 1 {
			t.Fatalf("batch %d: done ran %d times, want once", i, calls)
		}
	}
}

// TestFlightCodecOtherMessages: everything but the exchange's batches goes
// through gRPC's protobuf codec unchanged.
func TestFlightCodecOtherMessages(t *testing.T) {
	codec := newFlightCodec()
	msg := &flight.Action{Type: "health", Body: []byte("{}")}
	data, err := codec.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(msg)
	if !bytes.Equal(data.Materialize(), want) {
		t.Fatal("an Action is not marshalled as proto.Marshal does")
	}
	got := &flight.Action{}
	if err := codec.Unmarshal(data, got); err != nil || !proto.Equal(got, msg) {
		t.Fatalf("Action round trip: %v, %v", got, err)
	}
}
