package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxManifestLines bounds a manifest held in memory.
const maxManifestLines = 1_000_000

// csvLine is one data line of a manifest: its fields, or why it could not
// be read.
type csvLine struct {
	line   int // 1-based line number in the file
	fields []string
	err    error
}

// readCSVLines reads a CSV manifest one physical line at a time: a header
// line, then one record a line with as many columns as the header. Each
// line is parsed on its own (strict quotes), so a malformed line (an
// unbalanced quote, a wrong number of columns) is reported with its number
// and the next line is read as usual; a reader over the whole file would
// let one stray quote swallow every later line. Blank lines are skipped.
// Quoted fields therefore cannot span lines, which no manifest needs.
func readCSVLines(r io.Reader) ([]string, []csvLine, error) {
	br := bufio.NewReader(r)
	var header []string
	var out []csvLine
	for n := 1; ; n++ {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("manifest line %d: %w", n, err)
		}
		if strings.TrimSpace(text) != "" {
			if header == nil {
				if header, err = parseCSVLine(strings.TrimPrefix(text, "\ufeff"), -1); err != nil {
					return nil, nil, fmt.Errorf("manifest: cannot read the header row (line %d): %w", n, err)
				}
			} else {
				if len(out) >= maxManifestLines {
					return nil, nil, fmt.Errorf("manifest: more than %d rows; split it", maxManifestLines)
				}
				rec, perr := parseCSVLine(text, len(header))
				out = append(out, csvLine{line: n, fields: rec, err: perr})
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if header == nil {
		return nil, nil, errors.New("manifest: cannot read the header row: the file is empty")
	}
	return header, out, nil
}

// parseCSVLine parses one line as one CSV record of want fields (-1: any).
func parseCSVLine(text string, want int) ([]string, error) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = want
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = false
	rec, err := cr.Read()
	var pe *csv.ParseError
	switch {
	case err == nil:
	case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
		// pe's own text says "line 1": the line is parsed alone.
		return nil, fmt.Errorf("malformed CSV: %d columns, the header has %d (%w)", len(rec), want, pe.Err)
	case errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)):
		return nil, fmt.Errorf("malformed CSV: unbalanced or stray quote at column %d (%w)", pe.Column, pe.Err)
	default:
		return nil, fmt.Errorf("malformed CSV: %w", err)
	}
	if _, err := cr.Read(); !errors.Is(err, io.EOF) {
		// A quoted field that spans lines cannot reach here; anything
		// after the record would be a second one.
		return nil, errors.New("malformed CSV: more than one record on the line")
	}
	return rec, nil
}
