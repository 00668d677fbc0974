package admin

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/ent"
)

// ReviewData fills the review queue.
type ReviewData struct {
	Items []*ent.ReviewItem
	Total int // how many wait, beyond the page too
}

const reviewPath = "/admin/review"

// reviewNotices are what the queue says after an action.
var reviewNotices = map[string]string{"approved": "review.notice.approved", "cleared": "review.notice.cleared"}

// Review is GET /admin/review: flagged nicknames and avatars, newest
// first, with the reason and the user.
func (h *Handler) Review(c *fiber.Ctx) error {
	items, total, err := h.Profiles.ReviewQueue(c.UserContext())
	if err != nil {
		return err
	}
	page := &Page{Nav: "review", Data: ReviewData{Items: items, Total: total}}
	if key, ok := reviewNotices[h.takeFlash(c, reviewPath)]; ok {
		page.Notice = lang(c).T(key)
	}
	return h.render(c, fiber.StatusOK, "review", page)
}

// ApproveReview is POST /admin/review/{id}/approve: the content stays
// and leaves the queue.
func (h *Handler) ApproveReview(c *fiber.Ctx) error { return h.decideReview(c, false) }

// ClearReview is POST /admin/review/{id}/clear: the content is erased
// (nickname or avatar, the uploaded file too) and leaves the queue.
func (h *Handler) ClearReview(c *fiber.Ctx) error { return h.decideReview(c, true) }

func (h *Handler) decideReview(c *fiber.Ctx, clear bool) error {
	id, err := strconv.Atoi(c.Params("id"))
	if err != nil || id <= 0 {
		return notFound("error.no_review_item")
	}
	decide, action, done := h.Profiles.ApproveReview, audit.ReviewApproved, "approved"
	if clear {
		decide, action, done = h.Profiles.ClearReview, audit.ReviewCleared, "cleared"
	}
	item, err := decide(c.UserContext(), id)
	if err != nil {
		if p, ok := problem.As(err); ok && p.Code == problem.NotFound {
			return notFound("error.no_review_item")
		}
		return err
	}
	detail := item.Kind + " (" + item.Reason + "): " + item.Content
	if err := h.record(c, audit.Entry{Action: action, TargetUserID: item.UserID, Detail: detail}); err != nil {
		return err
	}
	h.Log.Info("admin decided a review item", "admin_id", currentAdmin(c).ID, "user_id", item.UserID, "kind", item.Kind, "decision", done)
	h.setFlash(c, reviewPath, done)
	return c.Redirect(reviewPath, fiber.StatusSeeOther)
}
