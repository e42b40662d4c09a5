package githubapi

import "time"

// ServerTime is GitHub's clock now, as estimated from the Date header of
// the latest answer (the local clock if none came yet): what a run anchors
// its targets' windows at when it begins (redeliver.AnchorFirstRun).
func (c *Client) ServerTime() time.Time { return c.skew.now().UTC().Truncate(time.Second) }
