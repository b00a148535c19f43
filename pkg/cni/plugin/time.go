package plugin

import "time"

// Time is time.Time; the alias keeps the clock seam readable.
type Time = time.Time

var timeNow = time.Now
