package export

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// DefaultChunkSize is the size of the chunks a file is stored in.
const DefaultChunkSize = 1 << 20

// chunker cuts a byte stream into chunks of size, handing each full one to
// flush as soon as the next byte arrives, so that the last chunk, never
// empty, is always left for the caller to store with the file's summary.
// It counts and hashes every byte.
type chunker struct {
	buf   []byte
	size  int
	seq   int // of the pending chunk
	n     int64
	hash  hash.Hash
	flush func(seq int, data []byte) error
}

func newChunker(size int, flush func(seq int, data []byte) error) *chunker {
	return &chunker{buf: make([]byte, 0, size), size: size, hash: sha256.New(), flush: flush}
}

func (c *chunker) Write(p []byte) (int, error) {
	written := len(p)
	c.hash.Write(p)
	c.n += int64(len(p))
	for len(p) > 0 {
		if len(c.buf) == c.size {
			if err := c.flush(c.seq, c.buf); err != nil {
				return 0, err
			}
			c.seq++
			c.buf = c.buf[:0]
		}
		k := copy(c.buf[len(c.buf):c.size], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
	}
	return written, nil
}

// last returns the pending chunk and its sequence number.
func (c *chunker) last() (int, []byte) { return c.seq, c.buf }

// sum is the hex SHA-256 of every byte written.
func (c *chunker) sum() string { return hex.EncodeToString(c.hash.Sum(nil)) }
