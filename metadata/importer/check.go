package importer

import (
	"errors"
	"strconv"
	"strings"

	"github.com/rulehook/rulehook/metadata"
)

// The checks below are the app API's own (metadata's user id, genre and song name rules), so an
// import accepts exactly what the API would. Each returns the cleaned value, or why the row is bad.

func checkUser(r Row) string {
	if r.Bad != "" {
		return r.Bad
	}
	if r.NullUser || r.UserID == "" {
		return "no user_id"
	}
	if err := metadata.ValidateUserID(r.UserID); err != nil {
		return reasonOf(err)
	}
	return ""
}

func checkPlays(r Row) (metadata.PlaysRow, string) {
	if why := checkUser(r); why != "" {
		return metadata.PlaysRow{}, why
	}
	v := strings.TrimSpace(r.Value)
	if r.NullValue || v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return metadata.PlaysRow{}, "plays is not a non-negative integer"
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > metadata.MaxImportedPlays {
		return metadata.PlaysRow{}, "plays is larger than 2^53"
	}
	return metadata.PlaysRow{UserID: r.UserID, Plays: n}, ""
}

func checkGenre(r Row) (metadata.UserValue, string) {
	if why := checkUser(r); why != "" {
		return metadata.UserValue{}, why
	}
	if r.NullValue {
		return metadata.UserValue{}, "genre is NULL"
	}
	g, err := metadata.NormalizeGenre(r.Value)
	if err != nil {
		return metadata.UserValue{}, reasonOf(err)
	}
	return metadata.UserValue{UserID: r.UserID, Value: g}, ""
}

func checkSong(r Row) (string, string) {
	if why := checkUser(r); why != "" {
		return "", why
	}
	if r.NullValue {
		return "", "song name is NULL"
	}
	name, err := metadata.NormalizeSongName(r.Value)
	if err != nil {
		return "", reasonOf(err)
	}
	return name, ""
}

// reasonOf is err's text without the sentinel's prefix ("invalid: ").
func reasonOf(err error) string {
	msg := err.Error()
	if errors.Is(err, metadata.ErrInvalid) {
		msg = strings.TrimPrefix(msg, metadata.ErrInvalid.Error()+": ")
	}
	return msg
}
