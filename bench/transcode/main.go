// Command transcode converts one recording file to another with recvault's
// media pipeline, for bench/transcode.sh to time against sox, ffmpeg and
// LAME. With -snr it instead compares two raw s16le files (reference and
// test, as decoded by ffmpeg) and prints the SNR after aligning them for
// codec delay. With -time it runs a command once and prints its wall time
// and CPU time (user+sys, from the kernel's rusage) in ms, so the script
// can compare tools by the work they do as well as by elapsed time.
//
//	transcode -in call.wav -out call.mp3 -format mp3 -bitrate 32
//	transcode -snr ref.s16 test.s16
//	transcode -time -- sox in.wav out.wav
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/recvault/recvault/media"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/wav"
)

func main() {
	in := flag.String("in", "", "input recording")
	out := flag.String("out", "", "output file")
	format := flag.String("format", "wav", "output format: original, wav, wav-alaw, wav-ulaw, alaw, ulaw, mp3")
	channels := flag.String("channels", "", "channels: stereo, mono, agent, customer (empty: as stored)")
	rate := flag.Int("rate", 0, "output sample rate in Hz (0: as stored)")
	bitrate := flag.Int("bitrate", 0, "mp3 bitrate in kbit/s (0: default)")
	raw := flag.String("raw", "", "input is headerless: alaw, ulaw or s16le (8 kHz mono)")
	snr := flag.Bool("snr", false, "compare two s16le files given as arguments: reference, test")
	timeCmd := flag.Bool("time", false, "run the command given as arguments; print wall and CPU ms")
	flag.Parse()
	var err error
	if *timeCmd {
		err = timeRun(flag.Args())
	} else if *snr {
		err = compare(flag.Arg(0), flag.Arg(1))
	} else {
		err = transcode(*in, *out, *raw, media.Request{Format: *format, Channels: *channels, SampleRate: *rate, Bitrate: *bitrate})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "transcode:", err)
		os.Exit(1)
	}
}

func transcode(in, out, raw string, req media.Request) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var hint probe.Hint
	switch raw {
	case "":
	case "alaw":
		hint.Raw = wav.ALaw
	case "ulaw":
		hint.Raw = wav.ULaw
	case "s16le":
		hint.Raw = wav.PCM16
	default:
		return fmt.Errorf("-raw %q: want alaw, ulaw or s16le", raw)
	}
	info, err := probe.Probe(f, st.Size(), hint)
	if err != nil {
		return err
	}
	o, err := media.Plan(media.Source{Info: info, Size: st.Size()}, req)
	if err != nil {
		return err
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	if o.Size > 0 {
		// The size is known up front: reserve the file's blocks in one
		// call instead of one delayed allocation per page written. Best
		// effort: file systems without fallocate just skip it.
		_ = syscall.Fallocate(int(w.Fd()), 0, 0, o.Size)
	}
	// No bufio.Writer: the pipeline already writes in large blocks, and a
	// buffer behind the 44-byte WAV header would copy every block again
	// to split it at the buffer's boundary. The source is read through
	// ReadAt (pread) in the pipeline's block size.
	if _, err := o.WriteTo(context.Background(), w, io.NewSectionReader(f, 0, st.Size())); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func timeRun(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("-time needs a command")
	}
	cmd := exec.Command(args[0], args[1:]...)
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fmt.Printf("%.3f %.3f\n", float64(wall.Microseconds())/1000, float64(cpu.Microseconds())/1000)
	return nil
}

func readS16(name string) ([]int16, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s, nil
}

// compare prints "SNR_dB LAG" of test against ref, searching delays up to
// ±2400 samples (codec start-up delays are ~500–1600 samples).
func compare(refName, testName string) error {
	ref, err := readS16(refName)
	if err != nil {
		return err
	}
	test, err := readS16(testName)
	if err != nil {
		return err
	}
	const maxLag = 2400
	// Coarse search on a decimated correlation, then exact around the peak.
	best, lag := math.Inf(-1), 0
	for d := -maxLag; d <= maxLag; d++ {
		s := snrAt(ref, test, d, 8)
		if s > best {
			best, lag = s, d
		}
	}
	best = math.Inf(-1)
	fine := lag
	for d := lag - 8; d <= lag+8; d++ {
		if s := snrAt(ref, test, d, 1); s > best {
			best, fine = s, d
		}
	}
	fmt.Printf("%.2f %d\n", best, fine)
	return nil
}

func snrAt(ref, test []int16, lag, step int) float64 {
	var sig, noise float64
	for i := 0; i < len(ref); i += step {
		j := i + lag
		if j < 0 || j >= len(test) {
			continue
		}
		e := float64(ref[i]) - float64(test[j])
		sig += float64(ref[i]) * float64(ref[i])
		noise += e * e
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}
