package admin

import (
	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/handlers/admin/i18n"
)

// DashboardData fills the dashboard.
type DashboardData struct {
	Stats *userlist.Stats
	Chart Chart
	// Review is how many flagged nicknames and avatars wait.
	Review int
	// Phone is today's phone numbers, the budget and WeChat's quota.
	Phone *profiles.PhoneToday
}

// Chart is the sign-ups bar chart, laid out here so that the template
// only draws SVG (no script, no inline style).
type Chart struct {
	Width, Height, Base int
	Bars                []Bar
	Ticks               []Tick
}

// Bar is one day.
type Bar struct {
	X, Y, W, H int
	Label      string
	Count      int
}

// Tick is a date under the axis.
type Tick struct {
	X, Y   int
	Label  string
	Anchor string // SVG text-anchor: the end ticks stay inside the chart
}

// Dashboard is GET /admin/.
func (h *Handler) Dashboard(c *fiber.Ctx) error {
	st, err := h.Users.Stats(c.UserContext(), h.Location)
	if err != nil {
		return err
	}
	review, err := h.Profiles.ReviewCount(c.UserContext())
	if err != nil {
		return err
	}
	phone, err := h.Profiles.PhoneToday(c.UserContext())
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "dashboard", &Page{Nav: "dashboard", Data: DashboardData{Stats: st, Chart: signupChart(st, lang(c)), Review: review, Phone: phone}})
}

func signupChart(st *userlist.Stats, l *i18n.Lang) Chart {
	const width, height, base, slot = 900, 220, 196, 30
	ch := Chart{Width: width, Height: height, Base: base}
	top := max(st.MaxSignups, 1)
	for i, d := range st.Signups {
		h := d.Count * (base - 10) / top
		if d.Count > 0 {
			h = max(h, 2)
		}
		x := i * slot
		ch.Bars = append(ch.Bars, Bar{X: x + 4, Y: base - h, W: slot - 8, H: h, Label: l.LongDay(d.Day), Count: d.Count})
		// A tick every 5 days and on the last day, but not one so close
		// to the last that their labels overlap on a phone.
		last := len(st.Signups) - 1
		if i%5 == 0 && last-i >= 3 || i == last {
			tick := Tick{X: x + slot/2, Y: height - 6, Label: l.Day(d.Day), Anchor: "middle"}
			switch i {
			case 0:
				tick.X, tick.Anchor = x+4, "start"
			case len(st.Signups) - 1:
				tick.X, tick.Anchor = x+slot-4, "end"
			}
			ch.Ticks = append(ch.Ticks, tick)
		}
	}
	return ch
}
