// Package timelag estimates how old the oldest unconsumed message of a
// partition is: now − timestamp of the record at the committed offset.
//
// It keeps, per partition, what is known about record timestamps as
// constraints on offsets, and answers by bracketing, never by extrapolating:
//
//   - every poll cycle observes the end offset E at time t: the record E−1
//     was produced no later than the first time E was seen, and the record E
//     no earlier than the last time E was still the end (an idle partition
//     keeps its old bounds, so the age of its oldest unconsumed message keeps
//     growing, as it must);
//   - a ListOffsets lookup by timestamp T answers the first offset o whose
//     record timestamp is >= T, and that timestamp: an exact point, plus the
//     bound "records before o are older than T";
//   - in exact mode, fetching the record at the committed offset gives its
//     timestamp directly.
//
// For a committed offset c the estimate lies between the latest lower bound
// at or below c and the earliest upper bound at or above c, interpolated
// linearly by offset; the width of that interval is the error bound reported
// with the value. When the bound is wider than the accuracy target (5% of
// the age or one poll interval, whichever is larger) or c is older than every
// known point, the Tracker asks for lookups (Tracker.Lookups) at the middle of the
// interval, so accuracy comes from a few batched requests right after start
// rather than from an hour of history. Points at past times never change, so
// they are cached; in steady state the end offsets the collector reads anyway
// keep the bounds tight and no extra request is sent.
//
// Nothing here reads the clock or talks to Kafka: now is an argument; the
// snapshot builder decides what to resolve and the collector does the
// lookups.
package timelag
