package server

import "time"

// mono is a point in time as the monotonic nanoseconds since the
// server's clockBase (set by init); 0 stands for none (a deadline is
// always later). Reading it takes one clock read, where time.Now takes
// two, and comparing and adding are integer operations: the deadlines of
// every command use it. As a time.Time (stageCtx.at, Server.timeAt) it
// is clockBase's wall time advanced by the monotonic time elapsed: shown
// to a person, it may differ from time.Now by the corrections made to
// the wall clock since the server started, and compared with time.Now
// (time.Until) it is exact.
type mono int64

// clock returns the current time as a mono.
func (s *Server) clock() mono { return mono(time.Since(s.clockBase)) }

// timeAt returns m as a time.Time; the zero Time for 0.
func (s *Server) timeAt(m mono) time.Time {
	if m == 0 {
		return time.Time{}
	}
	return s.clockBase.Add(time.Duration(m))
}

// setReadDeadline sets the read deadline to m (none for 0).
func (c *conn) setReadDeadline(m mono) {
	c.deadline = m
	c.nc.SetReadDeadline(c.srv.timeAt(m))
}

// setWriteDeadlineAt sets the write deadline to m (none for 0).
func (c *conn) setWriteDeadlineAt(m mono) {
	c.wdeadline = m
	c.nc.SetWriteDeadline(c.srv.timeAt(m))
}

// restoreReadDeadline sets the read deadline the connection armed again,
// after Shutdown or the sweeper moved it.
func (c *conn) restoreReadDeadline() {
	c.nc.SetReadDeadline(c.srv.timeAt(c.deadline))
}
