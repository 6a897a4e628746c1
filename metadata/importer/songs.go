package importer

import (
	"context"
	"fmt"

	"github.com/rulehook/rulehook/metadata"
)

// overCap is the reason of a song row past the per-user cap.
var overCap = fmt.Sprintf("over the cap of %d songs per user", metadata.MaxSongsPerUser)

// songsBatch gathers consecutive rows of one user into a list that replaces the user's songs
// (metadata.SongList). A user whose rows come back apart (a query not ordered by user) gets
// several lists of the same run, which the store appends, so the result is the same.
type songsBatch struct {
	r     *runner
	ks    *KindSummary
	cur   *songList // the user being read
	lists []songList
	names int // names in lists
}

type songList struct {
	list metadata.SongList
	nums []int64
}

func (b *songsBatch) add(ctx context.Context, row Row) error {
	name, why := checkSong(row)
	if why != "" {
		b.r.skip(b.ks, row.Num, row.UserID, why)
		return nil
	}
	if b.cur == nil || b.cur.list.UserID != row.UserID {
		b.close()
		if b.names >= b.r.opts.Batch {
			if err := b.write(ctx); err != nil {
				return err
			}
		}
		b.r.part++
		b.cur = &songList{list: metadata.SongList{UserID: row.UserID, Part: b.r.part}}
	}
	if len(b.cur.list.Names) >= metadata.MaxSongsPerUser {
		b.r.skip(b.ks, row.Num, row.UserID, overCap)
		return nil
	}
	b.cur.list.Names = append(b.cur.list.Names, name)
	b.cur.nums = append(b.cur.nums, row.Num)
	return nil
}

// close ends the current user's list.
func (b *songsBatch) close() {
	if b.cur == nil {
		return
	}
	b.lists = append(b.lists, *b.cur)
	b.names += len(b.cur.list.Names)
	b.cur = nil
}

func (b *songsBatch) flush(ctx context.Context) error {
	b.close()
	return b.write(ctx)
}

func (b *songsBatch) write(ctx context.Context) error {
	defer func() { b.lists, b.names = b.lists[:0], 0 }()
	if len(b.lists) == 0 {
		return nil
	}
	if b.r.opts.DryRun {
		b.ks.Written += int64(b.names)
		return nil
	}
	lists := make([]metadata.SongList, len(b.lists))
	for i, l := range b.lists {
		lists[i] = l.list
	}
	stored, err := b.r.st.ImportSongs(ctx, b.r.run, lists)
	if err != nil {
		return fmt.Errorf("write songs (from row %d on): %w", b.lists[0].nums[0], err)
	}
	for i, l := range b.lists {
		b.ks.Written += int64(stored[i])
		for _, num := range l.nums[min(stored[i], len(l.nums)):] {
			b.r.skip(b.ks, num, l.list.UserID, overCap)
		}
	}
	return nil
}
