// Package importer loads the old app's data (play counts, favourite genres, songs) into
// rulehook's store: `rulehook import`. A Source streams rows of each kind (the CSV reader here;
// PostgreSQL in importer/pgsource); Run checks every row with the app API's own validation,
// writes the good ones in batches through a Store (redisstore.Store) and names the bad ones in
// a Summary and, when asked, a CSV report. Nothing is held in memory beyond one batch.
//
// It imports the standard library and package metadata only.
package importer
