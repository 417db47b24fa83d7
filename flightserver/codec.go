package flightserver

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// flightCodec is gRPC's protobuf codec with the copies of Arrow data taken
// out of the two hot paths (issue 14 item 5: at 10M rows the default codec
// spent ~1.3 CPU-s of a DoExchange copying and zeroing message bodies):
//
//   - An outgoing *outgoingBatch (a record batch DoExchange sends) is
//     marshalled as a small prefix (the FlightData field tags, the IPC
//     header) followed by the Arrow buffers themselves: gRPC copies them
//     once, into its HTTP/2 frames. The default codec first has the batch
//     serialised into one buffer and then copies that into a zeroed message
//     buffer.
//   - An incoming FlightData is parsed from its wire bytes gathered once
//     into one buffer, which data_header and data_body then alias. The
//     default codec gathers them into a zeroed pooled buffer and
//     proto.Unmarshal copies each bytes field out of it again.
//
// Every other message goes through the default codec. The wire format is
// the same protobuf; clients see no difference.
type flightCodec struct {
	proto encoding.CodecV2
}

func newFlightCodec() flightCodec {
	return flightCodec{proto: encoding.GetCodecV2(grpcproto.Name)}
}

// Name is the default codec's: the content-subtype of responses stays
// "proto".
func (flightCodec) Name() string { return grpcproto.Name }

func (c flightCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(*outgoingBatch); ok {
		return b.marshal(), nil
	}
	return c.proto.Marshal(v)
}

func (c flightCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if fd, ok := v.(*flight.FlightData); ok {
		return unmarshalFlightData(data.Materialize(), fd)
	}
	return c.proto.Unmarshal(data, v)
}

// FlightData's field numbers (Flight.proto).
const (
	fieldDescriptor  protowire.Number = 1
	fieldDataHeader  protowire.Number = 2
	fieldAppMetadata protowire.Number = 3
	fieldDataBody    protowire.Number = 1000
)

// unmarshalFlightData decodes buf into fd as proto.Unmarshal would, except
// that data_header, app_metadata and data_body alias buf instead of being
// copied (buf is the message's own memory, never reused). Unknown fields
// are skipped.
func unmarshalFlightData(buf []byte, fd *flight.FlightData) error {
	fd.Reset()
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return fmt.Errorf("FlightData: %w", protowire.ParseError(n))
		}
		buf = buf[n:]
		if typ == protowire.BytesType {
			val, m := protowire.ConsumeBytes(buf)
			if m < 0 {
				return fmt.Errorf("FlightData field %d: %w", num, protowire.ParseError(m))
			}
			known := true
			switch num {
			case fieldDescriptor:
				if fd.FlightDescriptor == nil {
					fd.FlightDescriptor = &flight.FlightDescriptor{}
				}
				// A repeated message field merges, as in proto.Unmarshal.
				if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(val, fd.FlightDescriptor); err != nil {
					return fmt.Errorf("FlightData descriptor: %w", err)
				}
			case fieldDataHeader:
				fd.DataHeader = val
			case fieldAppMetadata:
				fd.AppMetadata = val
			case fieldDataBody:
				fd.DataBody = val
			default:
				known = false
			}
			if known {
				buf = buf[m:]
				continue
			}
		}
		m := protowire.ConsumeFieldValue(num, typ, buf)
		if m < 0 {
			return fmt.Errorf("FlightData field %d: %w", num, protowire.ParseError(m))
		}
		buf = buf[m:]
	}
	return nil
}

// outgoingBatch is a FlightData message of one record batch, held as the
// IPC header and the body's pieces (the Arrow buffers and their padding,
// which it does not own). done is called once gRPC no longer reads the
// pieces: after they were copied into its frames, or dropped with the
// stream. Send it with the stream's SendMsg (it is not a proto.Message).
type outgoingBatch struct {
	header   []byte
	body     [][]byte
	done     func()
	finished atomic.Bool
}

// finish calls done, once, whoever comes first: gRPC freeing the message,
// or the call giving up on it (outputWriter.Close).
func (b *outgoingBatch) finish() {
	if b.finished.CompareAndSwap(false, true) && b.done != nil {
		b.done()
	}
}

func (b *outgoingBatch) bodyLen() int {
	n := 0
	for _, p := range b.body {
		n += len(p)
	}
	return n
}

// size is the message's length on the wire (for the call's byte counts).
func (b *outgoingBatch) size() int {
	n := 0
	if len(b.header) > 0 {
		n += protowire.SizeTag(fieldDataHeader) + protowire.SizeBytes(len(b.header))
	}
	if body := b.bodyLen(); body > 0 {
		n += protowire.SizeTag(fieldDataBody) + protowire.SizeBytes(body)
	}
	return n
}

// marshal is the message in protobuf wire format, as proto.Marshal writes
// it: data_header, then data_body (each omitted when empty), the body's pieces
// as they are. A last, empty piece calls finish when gRPC frees it: gRPC reads and
// frees a message's buffers in order (its loopy writer) or frees them all
// when it drops the stream, so by then every piece was copied or dropped.
func (b *outgoingBatch) marshal() mem.BufferSlice {
	prefix := make([]byte, 0, len(b.header)+2*binary.MaxVarintLen64+4)
	if len(b.header) > 0 {
		prefix = protowire.AppendTag(prefix, fieldDataHeader, protowire.BytesType)
		prefix = protowire.AppendBytes(prefix, b.header)
	}
	if body := b.bodyLen(); body > 0 {
		prefix = protowire.AppendTag(prefix, fieldDataBody, protowire.BytesType)
		prefix = protowire.AppendVarint(prefix, uint64(body))
	}
	out := make(mem.BufferSlice, 0, len(b.body)+2)
	out = append(out, mem.SliceBuffer(prefix))
	for _, p := range b.body {
		if len(p) > 0 {
			out = append(out, mem.SliceBuffer(p))
		}
	}
	// mem.NewBuffer counts the references of a buffer of more than 1 KiB
	// capacity only (smaller ones are plain slices, never "freed"): the
	// sentinel has that capacity and no length, so it adds no bytes.
	sentinel := sentinelBytes[:0]
	return append(out, mem.NewBuffer(&sentinel, finishOnPut{b}))
}

var sentinelBytes = make([]byte, 0, 2<<10)

// finishOnPut is the "pool" of a message's sentinel buffer: gRPC puts the
// buffer back when its last reference is freed.
type finishOnPut struct{ b *outgoingBatch }

func (f finishOnPut) Get(int) *[]byte { panic("finishOnPut hands out no buffers") }
func (f finishOnPut) Put(*[]byte)     { f.b.finish() }

// bodyPieces collects what ipc.Payload.SerializeBody writes: the body's
// buffers and padding, by reference. Unlike an io.Writer's contract it
// keeps the slices; they stay valid while the payload's record batch is
// retained (the buffers are the batch's, or the IPC writer's own, in Go
// memory) and the padding is a constant.
type bodyPieces struct{ parts [][]byte }

func (p *bodyPieces) Write(b []byte) (int, error) {
	p.parts = append(p.parts, b)
	return len(b), nil
}
