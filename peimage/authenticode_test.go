package peimage_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// naiveAuthenticode computes the Authenticode hashes independently of
// AuthenticodeHasher: a copy of the file with the CheckSum, the security
// directory entry and the certificate table cut out, hashed in one go.
func naiveAuthenticode(t testing.TB, data []byte) (string, string) {
	t.Helper()
	lfanew := int(binary.LittleEndian.Uint32(data[0x3c:]))
	opt := lfanew + 24
	magic := binary.LittleEndian.Uint16(data[opt:])
	dirs := opt + 96
	if magic == 0x20b {
		dirs = opt + 112
	}
	sec := dirs + 8*4
	certOff := int(binary.LittleEndian.Uint32(data[sec:]))
	certLen := int(binary.LittleEndian.Uint32(data[sec+4:]))
	var b []byte
	b = append(b, data[:opt+64]...)
	b = append(b, data[opt+68:sec]...)
	if certOff != 0 && certLen != 0 {
		b = append(b, data[sec+8:certOff]...)
		b = append(b, data[certOff+certLen:]...)
	} else {
		b = append(b, data[sec+8:]...)
	}
	s1 := sha1.Sum(b)
	s2 := sha256.Sum256(b)
	return hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:])
}

// withCertTable appends a fake certificate table of n bytes (8-aligned) and
// points the security directory at it.
func withCertTable(data []byte, n int) []byte {
	out := bytes.Clone(data)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	off := len(out)
	cert := make([]byte, n)
	binary.LittleEndian.PutUint32(cert, uint32(n))
	binary.LittleEndian.PutUint16(cert[4:], 0x200)
	binary.LittleEndian.PutUint16(cert[6:], 2)
	for i := 8; i < n; i++ {
		cert[i] = byte(i)
	}
	out = append(out, cert...)
	lfanew := int(binary.LittleEndian.Uint32(out[0x3c:]))
	opt := lfanew + 24
	dirs := opt + 112
	if binary.LittleEndian.Uint16(out[opt:]) == 0x10b {
		dirs = opt + 96
	}
	binary.LittleEndian.PutUint32(out[dirs+32:], uint32(off))
	binary.LittleEndian.PutUint32(out[dirs+36:], uint32(n))
	return out
}

func TestAuthenticodeMatchesNaive(t *testing.T) {
	for _, m := range []uint16{pebuild.MachineAMD64, pebuild.MachineI386, pebuild.MachineARM64} {
		plain := build(t, pebuild.Driver(m)).Bytes
		// A checksum, so that leaving it out matters.
		binary.LittleEndian.PutUint32(plain[pebuild.PEOffset+24+64:], 0x12345678)
		for name, data := range map[string][]byte{
			"unsigned":      plain,
			"signed":        withCertTable(plain, 0x230),
			"trailing data": append(withCertTable(plain, 0x100), []byte("overlay after the table")...),
		} {
			f := mustParse(t, data)
			got := f.Authenticode()
			w1, w256 := naiveAuthenticode(t, data)
			if got.Error != "" || got.SHA1 != w1 || got.SHA256 != w256 || got.Signed != (name != "unsigned") {
				t.Errorf("%s %s: got %+v, want sha1 %s sha256 %s", peimage.MachineName(m), name, got, w1, w256)
			}
			// The same through writes of awkward sizes.
			for _, chunk := range []int{1, 3, 7, 64, 4096} {
				h, err := f.NewAuthenticodeHasher()
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < len(data); i += chunk {
					h.Write(data[i:min(i+chunk, len(data))])
				}
				if s := h.Sum(); s != got {
					t.Errorf("%s %s, chunks of %d: %+v, want %+v", peimage.MachineName(m), name, chunk, s, got)
				}
			}
			// Changing the checksum or the table does not change the hashes.
			alt := bytes.Clone(data)
			binary.LittleEndian.PutUint32(alt[pebuild.PEOffset+24+64:], 0xdeadbeef)
			if name != "unsigned" {
				alt[len(plain)+0x20] ^= 0xff // inside the certificate table
			}
			if a := mustParse(t, alt).Authenticode(); a != got {
				t.Errorf("%s %s: checksum or certificate change altered the hashes", peimage.MachineName(m), name)
			}
		}
	}
}

func TestAuthenticodeDamagedTable(t *testing.T) {
	plain := build(t, pebuild.Driver(pebuild.MachineAMD64)).Bytes
	signed := withCertTable(plain, 0x40)
	dirs := pebuild.PEOffset + 24 + 112
	for name, c := range map[string]struct {
		off, size uint32
		text      string
	}{
		"past the end":   {uint32(len(plain)), 0x1000, "runs past the end"},
		"into headers":   {0x10, 0x20, "overlaps the headers"},
		"huge size wrap": {uint32(len(plain)), 0xffffffff, "runs past the end"},
	} {
		data := bytes.Clone(signed)
		binary.LittleEndian.PutUint32(data[dirs+32:], c.off)
		binary.LittleEndian.PutUint32(data[dirs+36:], c.size)
		got := mustParse(t, data).Authenticode()
		if got.SHA256 != "" || !strings.Contains(got.Error, c.text) {
			t.Errorf("%s: %+v, want error %q", name, got, c.text)
		}
	}
	// Short write.
	f := mustParse(t, plain)
	h, _ := f.NewAuthenticodeHasher()
	h.Write(plain[:100])
	if s := h.Sum(); s.Error == "" {
		t.Errorf("short write: %+v", s)
	}
}

// osslDigests runs `osslsigncode verify` on path and returns the calculated
// message digests it prints, by algorithm ("SHA1", "SHA256").
func osslDigests(t *testing.T, path string) map[string]string {
	t.Helper()
	out, _ := exec.Command("osslsigncode", "verify", "-in", path).Output() // stdout only: its errors interleave
	re := regexp.MustCompile(`Message digest algorithm\s*:\s*(\S+)\s*\n\s*Current message digest\s*:\s*\S+\s*\n\s*Calculated message digest\s*:\s*([0-9A-Fa-f]+)`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		got[strings.ToUpper(m[1])] = strings.ToLower(m[2])
	}
	return got
}

func checkAgainstOssl(t *testing.T, path string) bool {
	t.Helper()
	want := osslDigests(t, path)
	if len(want) == 0 {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	got := f.Authenticode()
	if d, ok := want["SHA1"]; ok && d != got.SHA1 {
		t.Errorf("%s: SHA-1 %s, osslsigncode %s", filepath.Base(path), got.SHA1, d)
	}
	if d, ok := want["SHA256"]; ok && d != got.SHA256 {
		t.Errorf("%s: SHA-256 %s, osslsigncode %s", filepath.Base(path), got.SHA256, d)
	}
	return true
}

// TestAuthenticodeOsslsigncodeFixture signs a test driver with a throwaway
// certificate and compares with osslsigncode's calculated digest.
func TestAuthenticodeOsslsigncodeFixture(t *testing.T) {
	for _, tool := range []string{"osslsigncode", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=hvcicheck test").CombinedOutput(); err != nil {
		t.Skipf("openssl: %v\n%s", err, out)
	}
	for _, m := range []uint16{pebuild.MachineAMD64, pebuild.MachineI386} {
		in := filepath.Join(dir, "in.sys")
		if err := os.WriteFile(in, build(t, pebuild.Driver(m)).Bytes, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{"sha1", "sha256"} {
			out := filepath.Join(dir, alg+".sys")
			os.Remove(out)
			if b, err := exec.Command("osslsigncode", "sign", "-certs", cert, "-key", key, "-h", alg, "-in", in, "-out", out).CombinedOutput(); err != nil {
				t.Fatalf("osslsigncode sign: %v\n%s", err, b)
			}
			if !checkAgainstOssl(t, out) {
				t.Errorf("%s: osslsigncode printed no digest", alg)
			}
		}
	}
}

// TestAuthenticodeCorpus compares with osslsigncode on the signed drivers of
// the shared corpus.
func TestAuthenticodeCorpus(t *testing.T) {
	if _, err := exec.LookPath("osslsigncode"); err != nil {
		t.Skip("osslsigncode not installed")
	}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "byovd", "*.sys"))
	if len(paths) == 0 {
		t.Skip("no corpus")
	}
	if testing.Short() {
		paths = paths[:min(len(paths), 5)]
	}
	checked := 0
	for _, p := range paths {
		if checkAgainstOssl(t, p) {
			checked++
		}
	}
	if checked < len(paths)/2 {
		t.Errorf("osslsigncode gave digests for only %d of %d signed drivers", checked, len(paths))
	}
	t.Logf("%d drivers checked against osslsigncode", checked)
}
