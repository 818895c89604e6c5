package mp3enc

import (
	"encoding/binary"
	"fmt"
)

// The first frame of every stream is an "Info" frame: the CBR variant of
// the Xing header, followed by a LAME-style tag. It decodes to silence for
// a decoder that knows nothing of it (its side information is all zeros),
// while gapless decoders (ffmpeg, LAME's, mpg123, recvault's mp3dec) skip
// it and read two facts from it:
//
//   - the encoder delay: how many decoded samples precede the first input
//     sample, beyond the 529 samples every standard decoder adds itself;
//   - the end padding: how many decoded samples follow the last input
//     sample; only usable together with the frame count.
//
// With both, such a decoder outputs exactly the samples that were encoded,
// aligned at sample 0.

// decoderDelay is the delay a standard decoder's synthesis filterbank adds,
// which LAME-style tags leave out of their delay field (decoders add it:
// ffmpeg as 528 + 1).
const decoderDelay = 529

// tagDelay is the value of the tag's encoder-delay field for this encoder.
const tagDelay = delaySamples - decoderDelay

// closePad is the silence Close appends: the filterbank and MDCT delay,
// then one granule so the decoder's overlap-add finishes the last sample.
const closePad = delaySamples + 576

// Xing header flags (which optional fields follow).
const (
	xingFrames = 1
	xingBytes  = 2
	xingTOC    = 4
)

// lameTagLen is the length of the LAME extension after the Xing fields.
const lameTagLen = 36

// encoderID is the tag's 9-byte encoder version string. Decoders trust the
// delay and padding fields only when it starts with "LAME" (ffmpeg also
// accepts its own "Lavf"/"Lavc"); what follows names the actual encoder
// so that nobody mistakes the stream for one of LAME's.
const encoderID = "LAMErvlt1"

// streamFrames is the number of audio frames Close produces for n samples
// per channel written: the input plus closePad samples of silence, rounded
// up to whole frames. No input gives no audio frame.
func streamFrames(n int64, spf int) int64 {
	if n <= 0 {
		return 0
	}
	return (n + closePad + int64(spf) - 1) / int64(spf)
}

// streamBytes is the size of frames audio frames: each is slotNum/rate
// bytes, plus one padding byte whenever the running remainder reaches a
// whole byte (the sequence codeFrame follows).
func streamBytes(frames int64, slotNum, rate int) int64 {
	return frames*int64(slotNum/rate) + frames*int64(slotNum%rate)/int64(rate)
}

// appendInfoFrame appends the Info frame to b. total is the number of
// samples per channel the stream will carry, or 0 when unknown: then the
// frame count and padding are written as 0. ffmpeg (5.1; mp3dec follows
// it) still trims the delay, but finding neither a frame nor a byte count
// it does not skip the Info frame: it decodes it as one frame of silence,
// so the audio comes out one frame (72 ms at 8 kHz) late instead of the
// 132 ms without a tag. LAME's decoder skips the frame and ignores the
// delay when the count is 0.
func (e *Encoder) appendInfoFrame(b []byte, total int64) ([]byte, error) {
	h := e.header
	h.Padding = false
	h.ModeExtension = 0
	size := e.slotNum / e.opt.SampleRate
	if need := 4 + e.sideLen + 12 + lameTagLen; size < need {
		// Frames of the lowest bitrates at the higher MPEG-2 rates are
		// too small for the tag (24 bytes at 8 kbit/s, 24 kHz): the Info
		// frame alone then gets the smallest bitrate that holds it. The
		// audio frames keep their exact CBR size.
		for _, br := range ValidBitrates(e.opt.SampleRate) {
			if s := e.slotNum / e.opt.Bitrate * br / e.opt.SampleRate; s >= need {
				h.Bitrate, size = br, s
				break
			}
		}
	}
	hb, err := h.Bytes()
	if err != nil {
		return b, fmt.Errorf("mp3enc: %w", err)
	}
	start := len(b)
	b = append(b, hb[:]...)
	b = appendZeros(b, e.sideLen) // side info: no audio data

	var frames, bytes int64
	padding := 0
	if total > 0 {
		frames = streamFrames(total, e.frameLen)
		padding = int(frames*int64(e.frameLen) - tagDelay - total)
		bytes = int64(size) + streamBytes(frames, e.slotNum, e.opt.SampleRate)
	}
	if padding < 0 || padding > 0xFFF || frames > 0xFFFFFFFF || bytes > 0xFFFFFFFF {
		// Too long for the 32-bit fields (over 13 hours at 8 kHz
		// MPEG-2.5): write the stream as of unknown length.
		frames, bytes, padding = 0, 0, 0
	}

	// Optional fields, kept only when known and when they fit the frame
	// (an 8 kbit/s frame has 72 bytes): the frame count is always there,
	// as the LAME tag's position is found by skipping the flagged fields.
	fixed := 4 + e.sideLen + 8 + 4 + lameTagLen
	flags := uint32(xingFrames)
	if bytes > 0 && fixed+4 <= size {
		flags |= xingBytes
		fixed += 4
	}
	if bytes > 0 && fixed+100 <= size {
		flags |= xingTOC
		fixed += 100
	}
	if fixed > size {
		return b, fmt.Errorf("mp3enc: internal error: Info frame needs %d bytes, frame has %d", fixed, size)
	}
	b = append(b, "Info"...)
	b = binary.BigEndian.AppendUint32(b, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(frames))
	if flags&xingBytes != 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(bytes))
	}
	if flags&xingTOC != 0 {
		// Seek table: byte position of each percent of the duration, in
		// 256ths of the stream. A constant bitrate makes it a line.
		for i := range 100 {
			b = append(b, byte(i*256/100))
		}
	}

	// LAME tag.
	t := len(b)
	b = append(b, encoderID...)
	b = append(b, 0x01)                          // tag revision 0, VBR method 1: constant bitrate
	b = append(b, 0)                             // lowpass: none
	b = appendZeros(b, 4+2+2)                    // peak amplitude, radio and audiophile replay gain: not computed
	b = append(b, 0)                             // encoding flags, ATH type
	b = append(b, byte(min(e.opt.Bitrate, 255))) // bitrate
	v := uint32(tagDelay)<<12 | uint32(padding)
	b = append(b, byte(v>>16), byte(v>>8), byte(v))
	misc := byte(0) // source rate ≤ 32 kHz, mono
	switch {
	case e.opt.SampleRate == 44100:
		misc = 1 << 6
	case e.opt.SampleRate == 48000:
		misc = 2 << 6
	}
	if e.opt.Channels == 2 {
		misc |= 3 << 2 // joint stereo
	}
	b = append(b, misc)
	b = append(b, 0, 0, 0)                                 // MP3Gain, preset and surround
	b = binary.BigEndian.AppendUint32(b, uint32(bytes))    // music length, Info frame included
	b = append(b, 0, 0)                                    // music CRC: the audio is not known yet
	b = binary.BigEndian.AppendUint16(b, crc16(b[start:])) // tag CRC: all the frame before it
	if len(b)-t != lameTagLen {
		return b, fmt.Errorf("mp3enc: internal error: LAME tag %d bytes", len(b)-t)
	}
	return appendZeros(b, size-(len(b)-start)), nil
}

// crc16 is the CRC-16 LAME tags use for their own checksum (polynomial
// 0x8005, reflected, initial value 0), computed bitwise: it covers under
// 200 bytes once per stream.
func crc16(p []byte) uint16 {
	var c uint16
	for _, x := range p {
		c ^= uint16(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
	}
	return c
}
