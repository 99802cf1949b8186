package proxy

import "sync/atomic"

// LoopActivity is what an event loop counted since it started, under the
// names of HAProxy's "show activity" (activity.c): Loops its iterations,
// PollIO the polls that returned events, PollExp those that returned on
// their timeout (a timer due), Accepted the connections it accepted,
// AccqPushed those it handed to another loop (the least loaded).
type LoopActivity struct {
	Loops, PollIO, PollExp, Accepted, AccqPushed uint64
}

// loopActivity is a loop's LoopActivity as it counts it.
type loopActivity struct {
	loops, pollIO, pollExp, accepted, accqPushed atomic.Uint64
}
