package mp3enc_test

import (
	"bytes"
	"fmt"
	"math"

	"github.com/recvault/recvault/media/mp3enc"
)

// Encode one second of an 8 kHz mono tone at 32 kbit/s, the setting recvault
// uses for call recordings.
func ExampleEncoder() {
	var out bytes.Buffer
	enc, err := mp3enc.NewEncoder(&out, mp3enc.Options{
		SampleRate: 8000, Channels: 1, Bitrate: 32,
		TotalSamples: 8000, // known up front: decoders trim to exactly 8000 samples
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	if err := enc.Write(pcm); err != nil {
		fmt.Println(err)
		return
	}
	if err := enc.Close(); err != nil {
		fmt.Println(err)
		return
	}
	// The Info frame, then 8000 samples plus the encoder delay and flush
	// in 17 frames of 576 samples: 18 frames of 288 bytes at 32 kbit/s.
	fmt.Println(out.Len(), out.Len()/288)
	// Output: 5184 18
}

func ExampleNewEncoder_badOption() {
	_, err := mp3enc.NewEncoder(&bytes.Buffer{}, mp3enc.Options{SampleRate: 8000, Channels: 1, Bitrate: 128 + 1})
	fmt.Println(err)
	// Output: mp3enc: Bitrate 129 kbit/s not valid at 8000 Hz; valid: 8 16 24 32 40 48 56 64 80 96 112 128 144 160
}
