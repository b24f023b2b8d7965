-- Listings and agendas read only what they show (issue 25): each query behind !agenda,
-- !ics agenda and !requests is an index search, not a scan of every active row.

-- !agenda: repeating items whose next occurrence is overdue (commands/schedule/window.py),
-- the window itself uses schedule_items_state (state, next_at).
-- (An expression, not a partial index: SQLite's planner, without statistics, prefers
-- schedule_items_state for a partial one and reads every past one-off.)
CREATE INDEX schedule_items_recurring ON schedule_items (state, (rrule IS NOT NULL), next_at);

-- Whose items: the items a person or a post takes part in.
CREATE INDEX schedule_participants_who ON schedule_participants (who, item_id);

-- !requests: by status, newest first; a person's own by status.
CREATE INDEX liaison_requests_status ON liaison_requests (status, id);
CREATE INDEX liaison_requests_requester_status ON liaison_requests (requester, status, id);
