package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// CSVFile is a Source of play counts in a CSV file with the header user_id,plays. It holds
// plays only; each Rows call reads the file from the start, a record at a time.
type CSVFile struct {
	path string
}

// OpenCSV checks that path can be read and starts with the header user_id,plays. Errors wrap
// ErrUsage.
func OpenCSV(path string) (*CSVFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	defer f.Close()
	if _, err := readHeader(csv.NewReader(bufio.NewReader(f)), path); err != nil {
		return nil, err
	}
	return &CSVFile{path: path}, nil
}

func readHeader(r *csv.Reader, path string) ([]string, error) {
	h, err := r.Read()
	if err != nil && !errors.Is(err, csv.ErrFieldCount) {
		return nil, fmt.Errorf("%w: %s: no CSV header: %v", ErrUsage, path, err)
	}
	if len(h) != 2 || strings.TrimPrefix(strings.TrimSpace(h[0]), "\ufeff") != "user_id" || strings.TrimSpace(h[1]) != "plays" {
		return nil, fmt.Errorf("%w: %s: the header must be user_id,plays", ErrUsage, path)
	}
	return h, nil
}

// Has reports true for plays only.
func (c *CSVFile) Has(kind Kind) bool { return kind == Plays }

// Count returns the number of lines after the header (a quoted field that spans lines makes it
// an estimate).
func (c *CSVFile) Count(context.Context, Kind) (int64, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return -1, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 64<<10)
	last := byte('\n')
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if k > 0 {
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return -1, fmt.Errorf("read %s: %w", c.path, err)
		}
	}
	if last != '\n' {
		n++
	}
	return max(n-1, 0), nil
}

// Rows calls fn with each record after the header; Num is the record's line. A record with
// the wrong number of fields or bad quoting becomes a row that fails the checks (no user_id or a
// bad count), so it is skipped and named rather than ending the import.
func (c *CSVFile) Rows(ctx context.Context, _ Kind, fn func(Row) error) error {
	f, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	if _, err := readHeader(r, c.path); err != nil {
		return err
	}
	for i := 0; ; i++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var line int
		var pe *csv.ParseError
		switch {
		case err == nil:
			line, _ = r.FieldPos(0)
		case errors.As(err, &pe):
			rec, line = nil, pe.StartLine
		default:
			return fmt.Errorf("read %s: %w", c.path, err)
		}
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(csvRow(rec, int64(line))); err != nil {
			return err
		}
	}
}

func csvRow(rec []string, line int64) Row {
	row := Row{Num: line}
	switch len(rec) {
	case 0:
		row.Bad = "not a valid CSV record"
	case 2:
		row.UserID, row.Value = strings.TrimSpace(rec[0]), rec[1]
	default:
		row.UserID, row.Bad = strings.TrimSpace(rec[0]), fmt.Sprintf("%d fields; want 2 (user_id,plays)", len(rec))
	}
	return row
}
