// Package recvault holds the domain of the call-recording vault: recordings,
// users, roles, sessions, the access rule and the interfaces of the stores.
// It imports nothing outside the standard library, so every other package
// (stores, media, façades, commands) can depend on it and it on none of them.
package recvault

import (
	"context"
	"io"
	"strings"
	"time"
)

// Kind says whether a recording is a voice or a video (screen) recording.
type Kind string

const (
	KindVoice Kind = "voice"
	KindVideo Kind = "video"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindVoice || k == KindVideo }

// MediaFormat is what the bytes of a recording are, as probed at ingest.
type MediaFormat struct {
	Container  string `json:"container"`  // wav, raw, mp3, mp4
	Codec      string `json:"codec"`      // pcm_s16le, alaw, ulaw, mp3, or the mp4 track codecs
	SampleRate int    `json:"sampleRate"` // Hz; 0 for video
	Channels   int    `json:"channels"`
	// For two-channel voice: which channel (0 or 1) carries the agent and which
	// the customer. Both are -1 when the recording is not dual-track.
	AgentChannel    int `json:"agentChannel"`
	CustomerChannel int `json:"customerChannel"`
	// Where the coded samples lie in the stored bytes (WAV and raw: the
	// data chunk; MP3: first to last whole frame), so that serving need not
	// parse the file again. Zero for MP4.
	DataOffset int64 `json:"-"`
	DataSize   int64 `json:"-"`
}

// Recording is one stored recording of (part of) a call.
//
// Its identity is (CampaignID, CRTObjectID): Ameyo finds a voice log by that
// pair, and ingest refuses a second, different recording under it.
type Recording struct {
	ID           string        `json:"id"`
	CampaignID   int64         `json:"campaignId"`
	CRTObjectID  string        `json:"crtObjectId"`
	CallID       string        `json:"callId"`
	AgentID      string        `json:"agentId"`
	Kind         Kind          `json:"kind"`
	Format       MediaFormat   `json:"format"`
	StartedAt    time.Time     `json:"startedAt"`
	Duration     time.Duration `json:"-"`
	Size         int64         `json:"size"`
	SHA256       string        `json:"sha256"`
	BlobKey      string        `json:"-"`
	OriginalPath string        `json:"originalPath,omitempty"`
	CreatedAt    time.Time     `json:"createdAt"`
	// DataKey is the recording's data key wrapped under a master key
	// (blob/sealed.WrappedKey), kept in the catalogue rather than in the
	// blob header so that rotating the master key rewrites these bytes and
	// never the blob, and so that deleting the row crypto-shreds any copy
	// of the blob that survives (a backup, a replica, a failed delete).
	// nil: the blob holds its own key in its header, or is not encrypted.
	// It never leaves the server (json "-").
	DataKey []byte `json:"-"`
}

// Validate checks the fields a caller supplies at ingest.
func (r *Recording) Validate() error {
	switch {
	case r.CampaignID <= 0:
		return Errorf(EINVALID, "campaign id must be a positive integer")
	case !validID(r.CRTObjectID):
		return Errorf(EINVALID, "crt object id is required (1-128 printable characters, no spaces)")
	case !validID(r.CallID):
		return Errorf(EINVALID, "call id is required (1-128 printable characters, no spaces)")
	case !validID(r.AgentID):
		return Errorf(EINVALID, "agent id is required (1-128 printable characters, no spaces)")
	case !r.Kind.Valid():
		return Errorf(EINVALID, "kind must be voice or video")
	case len(r.OriginalPath) > 1024 || strings.ContainsRune(r.OriginalPath, 0):
		return Errorf(EINVALID, "original path is too long or contains NUL")
	}
	return nil
}

// SameIdentity reports whether o describes the same recording as r: the same
// bytes and the same caller-supplied metadata. Re-ingesting such a recording
// is a no-op; anything else under r's identity is a conflict.
func (r *Recording) SameIdentity(o *Recording) bool {
	return r.CampaignID == o.CampaignID && r.CRTObjectID == o.CRTObjectID &&
		r.CallID == o.CallID && r.AgentID == o.AgentID && r.Kind == o.Kind &&
		r.SHA256 == o.SHA256 && r.Size == o.Size &&
		NormalizeVendorPath(r.OriginalPath) == NormalizeVendorPath(o.OriginalPath) &&
		(o.StartedAt.IsZero() || r.StartedAt.Equal(o.StartedAt))
}

// ChannelLabels names a voice recording's stored channels, in order:
// "agent" and "customer" by the mapping stored at ingest for a dual-track
// call, "mono" for one channel, "left" and "right" for a stereo file
// without a mapping; nil for video.
func (r *Recording) ChannelLabels() []string {
	f := r.Format
	switch {
	case r.Kind == KindVideo:
		return nil
	case f.Channels == 1:
		return []string{"mono"}
	case f.Channels == 2 && f.AgentChannel == 0 && f.CustomerChannel == 1:
		return []string{"agent", "customer"}
	case f.Channels == 2 && f.AgentChannel == 1 && f.CustomerChannel == 0:
		return []string{"customer", "agent"}
	case f.Channels == 2:
		return []string{"left", "right"}
	}
	return nil
}

// NormalizeVendorPath turns a recorder path such as `y:\1\0\20181217\120\1.V3`
// into the catalogue's comparison form `Y:/1/0/20181217/120/1.V3`: forward
// slashes, an upper-case drive letter. It is a lookup key, never a file path.
func NormalizeVendorPath(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	if len(p) >= 2 && p[1] == ':' && p[0] >= 'a' && p[0] <= 'z' {
		p = string(p[0]-'a'+'A') + p[1:]
	}
	return p
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// RecordingFilter narrows a listing. Zero fields do not filter.
type RecordingFilter struct {
	CampaignID int64
	AgentID    string
	CallID     string
	CRTObject  string
	Kind       Kind
	// OriginalPath matches the recorder path compared as NormalizeVendorPath does.
	OriginalPath string
	From, To     time.Time // StartedAt in [From, To)
	// MinDuration and MaxDuration bound the playing time (inclusive, whole
	// milliseconds as stored); zero does not filter.
	MinDuration, MaxDuration time.Duration
	Scope                    Scope  // what the caller may see; always applied
	Cursor                   string // opaque, from a previous page
	Limit                    int
}

// BlobInfo is what a blob store learnt while writing a blob.
type BlobInfo struct {
	Size   int64
	SHA256 string // lower-case hex
}

// Blob is an open stored blob: readable sequentially, by offset and by seeking.
type Blob interface {
	io.ReadSeekCloser
	io.ReaderAt
	Size() int64
}

// BlobStore keeps recording bytes under keys the core chooses. The
// embedded implementation is a local directory; a scale-out one is an
// S3-compatible bucket; both pass the same test suite (blob/blobtest).
//
// Put streams r to key, hashing it on the way, and returns only once the
// blob is durable; until then nothing is visible under key, and a crash
// leaves at most invisible temporary data. Put never replaces a blob: a
// second Put of an existing key is ECONFLICT (where the store can tell) and
// never leaves a mix of two writes. Open returns ENOTFOUND for a missing
// key; the Blob it returns reads by ranges, never fetching what is not read.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader) (BlobInfo, error)
	Open(ctx context.Context, key string) (Blob, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Walk calls fn with every stored key and the time it was written.
	Walk(ctx context.Context, fn func(key string, mod time.Time) error) error
	// Clean removes the leftovers of writes interrupted more than age ago
	// (temporary files, incomplete multipart uploads) and says how many.
	Clean(ctx context.Context, age time.Duration) (int, error)
	// Ping checks that the store answers (for readiness probes).
	Ping(ctx context.Context) error
}
