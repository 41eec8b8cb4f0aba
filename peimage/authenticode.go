package peimage

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// AuthenticodeHashes are an image's Authenticode hashes ("Authentihash"):
// the digests a signature signs, and what driver blocklists (Microsoft's
// vulnerable driver blocklist, LOLDrivers) match on. They identify the
// image whatever signatures are attached to it. The signature itself is not
// verified.
type AuthenticodeHashes struct {
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Signed is set when the image has a certificate table (an attached
	// signature, not verified).
	Signed bool `json:"signed,omitempty"`
	// Error says why the hashes could not be computed.
	Error string `json:"error,omitempty"`
}

// byteRange is a half-open range of file offsets [start, end).
type byteRange struct{ start, end int64 }

// AuthenticodeHasher computes the Authenticode hashes of an image from its
// bytes written in order from offset 0 (it is an io.Writer, to share one
// pass over the file with other hashes). The hashed bytes are the whole file
// except the optional header's CheckSum field, the certificate-table
// (security) directory entry and the certificate table itself, as the
// Authenticode specification defines for an image whose certificate table is
// at its end (where signing tools put it; data after it is hashed too).
// An image not padded to 8 bytes is hashed as it is, without the padding a
// signing tool would add first.
type AuthenticodeHasher struct {
	skips  []byteRange // sorted, disjoint
	size   int64
	off    int64
	sha1   hash.Hash
	sha256 hash.Hash
	signed bool
}

// NewAuthenticodeHasher returns a hasher for f, or an error when the
// certificate-table entry points outside the file or into its headers.
func (f *File) NewAuthenticodeHasher() (*AuthenticodeHasher, error) {
	o := &f.Optional
	checksum := o.Offset + 64
	h := &AuthenticodeHasher{size: f.size, sha1: sha1.New(), sha256: sha256.New()}
	h.skips = append(h.skips, byteRange{checksum, checksum + 4})
	if o.DirectoryCount > DirSecurity {
		dirOff := int64(96)
		if f.Is64() {
			dirOff = 112
		}
		entry := o.Offset + dirOff + 8*DirSecurity
		h.skips = append(h.skips, byteRange{entry, entry + 8})
		if d := o.DataDirectories[DirSecurity]; d.RVA != 0 && d.Size != 0 {
			start, end := int64(d.RVA), int64(d.RVA)+int64(d.Size)
			if end > f.size {
				return nil, fmt.Errorf("the certificate table [0x%x, 0x%x) runs past the end of the %d-byte file", start, end, f.size)
			}
			if start < entry+8 {
				return nil, fmt.Errorf("the certificate table at 0x%x overlaps the headers", start)
			}
			h.skips = append(h.skips, byteRange{start, end})
			h.signed = true
		}
	}
	return h, nil
}

// Write hashes the next len(p) bytes of the file, leaving out the skipped
// ranges. It never fails.
func (h *AuthenticodeHasher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		next := int64(len(p))
		skip := false
		for _, s := range h.skips {
			if h.off >= s.start && h.off < s.end {
				skip, next = true, min(next, s.end-h.off)
				break
			}
			if s.start > h.off {
				next = min(next, s.start-h.off)
			}
		}
		if !skip {
			h.sha1.Write(p[:next])
			h.sha256.Write(p[:next])
		}
		p = p[next:]
		h.off += next
	}
	return n, nil
}

// Sum returns the hashes of the bytes written, or an error if fewer bytes
// were written than the file holds.
func (h *AuthenticodeHasher) Sum() AuthenticodeHashes {
	if h.off != h.size {
		return AuthenticodeHashes{Error: fmt.Sprintf("authenticode: hashed %d of %d bytes", h.off, h.size)}
	}
	return AuthenticodeHashes{
		SHA1:   hex.EncodeToString(h.sha1.Sum(nil)),
		SHA256: hex.EncodeToString(h.sha256.Sum(nil)),
		Signed: h.signed,
	}
}

// Authenticode reads the whole image and returns its Authenticode hashes.
// A file whose certificate-table entry is damaged, or that cannot be read,
// gets hashes with Error set.
func (f *File) Authenticode() AuthenticodeHashes {
	h, err := f.NewAuthenticodeHasher()
	if err != nil {
		return AuthenticodeHashes{Error: "authenticode: " + err.Error()}
	}
	if _, err := io.Copy(h, io.NewSectionReader(f.r, 0, f.size)); err != nil {
		return AuthenticodeHashes{Error: fmt.Sprintf("authenticode: read: %v", err)}
	}
	return h.Sum()
}
