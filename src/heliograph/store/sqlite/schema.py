"""SQLite schema of the main database, as an ordered list of migrations.

Append a new script to change the schema; never edit one that has shipped.
"""

MIGRATIONS = [
    """
    CREATE TABLE organizations (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        ai_policy TEXT NOT NULL DEFAULT 'allowed',
        created_at REAL NOT NULL
    );
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        organization_id INTEGER NOT NULL REFERENCES organizations(id),
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        platform TEXT NOT NULL DEFAULT 'python',
        ai_policy TEXT NOT NULL DEFAULT 'allowed',
        keep_llm_payloads INTEGER NOT NULL DEFAULT 0,
        payload_max_chars INTEGER NOT NULL DEFAULT 30000,
        retention_days INTEGER NOT NULL DEFAULT 90,
        created_at REAL NOT NULL,
        UNIQUE (organization_id, slug)
    );
    CREATE TABLE project_keys (
        public_key TEXT PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        label TEXT NOT NULL DEFAULT 'Default',
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT,
        is_superuser INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE memberships (
        user_id INTEGER NOT NULL REFERENCES users(id),
        organization_id INTEGER NOT NULL REFERENCES organizations(id),
        role TEXT NOT NULL,
        PRIMARY KEY (user_id, organization_id)
    );
    CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        label TEXT NOT NULL,
        scopes TEXT NOT NULL DEFAULT 'read write admin',
        created_at REAL NOT NULL,
        last_used_at REAL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE login_links (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        expires_at REAL NOT NULL,
        used_at REAL
    );
    CREATE TABLE issues (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        group_hash TEXT NOT NULL,
        grouping_version TEXT NOT NULL,
        title TEXT NOT NULL,
        culprit TEXT NOT NULL DEFAULT '',
        level TEXT NOT NULL,
        platform TEXT NOT NULL DEFAULT 'other',
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        times_seen INTEGER NOT NULL DEFAULT 0,
        users_seen INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'unresolved',
        substatus TEXT NOT NULL DEFAULT 'new',
        resolved_in_release TEXT,
        resolved_at REAL,
        first_release TEXT,
        last_release TEXT,
        UNIQUE (project_id, group_hash)
    );
    CREATE INDEX issues_by_last_seen ON issues (project_id, last_seen DESC);
    CREATE INDEX issues_by_first_seen ON issues (project_id, first_seen DESC);
    CREATE INDEX issues_by_count ON issues (project_id, times_seen DESC);
    CREATE TABLE issue_tags (
        issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        times_seen INTEGER NOT NULL DEFAULT 0,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY (issue_id, key, value)
    ) WITHOUT ROWID;
    CREATE INDEX issue_tags_by_value ON issue_tags (key, value, issue_id);
    CREATE TABLE issue_users (
        issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
        user_key TEXT NOT NULL,
        PRIMARY KEY (issue_id, user_key)
    ) WITHOUT ROWID;
    CREATE TABLE issue_hourly (
        issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
        hour INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (issue_id, hour)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        issue_id INTEGER,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        timestamp REAL NOT NULL,
        received_at REAL NOT NULL,
        level TEXT,
        environment TEXT,
        release TEXT,
        distinct_id TEXT,
        trace_id TEXT,
        data BLOB NOT NULL,
        UNIQUE (project_id, event_id)
    );
    CREATE INDEX events_by_issue ON events (issue_id, timestamp DESC);
    CREATE INDEX events_by_trace ON events (project_id, trace_id) WHERE trace_id IS NOT NULL;
    CREATE INDEX events_by_time ON events (project_id, kind, timestamp);
    CREATE TABLE outcomes (
        project_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        category TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        quantity INTEGER NOT NULL,
        PRIMARY KEY (project_id, day, category, outcome, reason)
    ) WITHOUT ROWID;
    CREATE TABLE fix_cache (
        cache_key TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    # 2: LLM analytics in typed columns and hourly/daily rollups, so that the
    # dashboard never parses JSON nor scans a month of rows (store/sqlite/llm_write.py).
    """
    CREATE TABLE llm_events (
        id INTEGER PRIMARY KEY, -- the event's id in events
        project_id INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        name TEXT NOT NULL,
        timestamp REAL NOT NULL,
        started_at REAL NOT NULL,
        trace_id TEXT,
        span_id TEXT,
        parent_id TEXT,
        session_id TEXT,
        distinct_id TEXT,
        model TEXT,
        provider TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cache_read_tokens INTEGER,
        cache_creation_tokens INTEGER,
        reasoning_tokens INTEGER,
        total_cost_usd REAL,
        cost_source TEXT,
        latency_s REAL,
        ttft_s REAL,
        is_error INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        http_status INTEGER,
        span_name TEXT,
        environment TEXT,
        release TEXT
    );
    CREATE INDEX llm_events_by_time ON llm_events (project_id, timestamp);
    CREATE INDEX llm_events_by_trace ON llm_events (project_id, trace_id, started_at)
        WHERE trace_id IS NOT NULL;
    CREATE INDEX llm_events_by_model ON llm_events (project_id, model, timestamp)
        WHERE model IS NOT NULL;
    CREATE INDEX llm_events_by_user ON llm_events (project_id, distinct_id, timestamp)
        WHERE distinct_id IS NOT NULL;
    CREATE INDEX llm_events_errors ON llm_events (project_id, timestamp) WHERE is_error = 1;
    CREATE TABLE llm_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        priced INTEGER NOT NULL DEFAULT 0,
        latency_sum REAL NOT NULL DEFAULT 0,
        latency_count INTEGER NOT NULL DEFAULT 0,
        ttft_sum REAL NOT NULL DEFAULT 0,
        ttft_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, hour, model, provider)
    ) WITHOUT ROWID;
    CREATE TABLE llm_latency_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (project_id, hour, model, provider, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE llm_latency_daily (
        project_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (project_id, day, model, provider, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE llm_traces (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        trace_id TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        name TEXT,
        name_rank INTEGER NOT NULL DEFAULT 9,
        has_trace_event INTEGER NOT NULL DEFAULT 0,
        trace_latency_s REAL,
        events INTEGER NOT NULL DEFAULT 0,
        generations INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        unpriced INTEGER NOT NULL DEFAULT 0,
        session_id TEXT,
        distinct_id TEXT,
        environment TEXT,
        release TEXT,
        UNIQUE (project_id, trace_id)
    );
    CREATE INDEX llm_traces_by_time ON llm_traces (project_id, started_at);
    CREATE INDEX llm_traces_by_cost ON llm_traces (project_id, cost_usd);
    CREATE INDEX llm_traces_by_session ON llm_traces (project_id, session_id, started_at)
        WHERE session_id IS NOT NULL;
    """,
    # 3: access and limits: teams (organization -> teams -> projects), per-key and
    # per-project rate limits, project-level scrubbing rules, token prefixes
    # (what the account page shows of a token it can no longer show whole).
    """
    CREATE TABLE teams (
        id INTEGER PRIMARY KEY,
        organization_id INTEGER NOT NULL REFERENCES organizations(id),
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (organization_id, slug)
    );
    CREATE TABLE team_members (
        team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (team_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX team_members_by_user ON team_members (user_id, team_id);
    CREATE TABLE team_projects (
        team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        PRIMARY KEY (team_id, project_id)
    ) WITHOUT ROWID;
    CREATE INDEX team_projects_by_project ON team_projects (project_id, team_id);
    CREATE INDEX memberships_by_org ON memberships (organization_id, user_id);
    ALTER TABLE projects ADD COLUMN rate_limit INTEGER;
    ALTER TABLE projects ADD COLUMN scrub_extra_keys TEXT NOT NULL DEFAULT '';
    ALTER TABLE projects ADD COLUMN scrub_safe_fields TEXT NOT NULL DEFAULT '';
    ALTER TABLE project_keys ADD COLUMN rate_limit INTEGER;
    CREATE INDEX project_keys_by_project ON project_keys (project_id, created_at);
    ALTER TABLE api_tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
    CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
    """,
    # 4: failed logins, what login throttling counts: in the database, so that every
    # server process (and node) sees the same count. Keys are stored as SHA-256 digests.
    """
    CREATE TABLE login_failures (
        key TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX login_failures_by_key ON login_failures (key, at);
    CREATE INDEX login_failures_by_time ON login_failures (at);
    """,
    # 5: feature flags (in PostHog's shape: filters and per-environment switches as
    # JSON) and their audit log. A deleted flag stays, marked, for its log; its key
    # is unique only among the flags not deleted.
    """
    CREATE TABLE feature_flags (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        key TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        filters TEXT NOT NULL,
        environments TEXT NOT NULL DEFAULT '{}',
        version INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        created_by INTEGER,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX feature_flags_by_key ON feature_flags (project_id, key)
        WHERE deleted = 0;
    CREATE TABLE feature_flag_changes (
        id INTEGER PRIMARY KEY,
        flag_id INTEGER NOT NULL,
        project_id INTEGER NOT NULL,
        user_id INTEGER,
        action TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX feature_flag_changes_by_flag ON feature_flag_changes (flag_id, at);
    """,
    # 6: LLM usage by feature-flag value (store/llm_flags.py): what the dashboard
    # compares variants by, summed per hour like llm_hourly.
    """
    CREATE TABLE llm_flag_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        flag TEXT NOT NULL,
        value TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        priced INTEGER NOT NULL DEFAULT 0,
        latency_sum REAL NOT NULL DEFAULT 0,
        latency_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, hour, flag, value)
    ) WITHOUT ROWID;
    CREATE INDEX llm_flag_hourly_by_flag ON llm_flag_hourly (project_id, flag, hour);
    """,
    # 7: how often each flag value was first read, per hour ($feature_flag_called
    # events): the flags page's recent evaluations.
    """
    CREATE TABLE flag_calls_hourly (
        project_id INTEGER NOT NULL,
        flag TEXT NOT NULL,
        hour INTEGER NOT NULL,
        value TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, flag, hour, value)
    ) WITHOUT ROWID;
    """,
    # 8: session replays. A replay's recorded events are compressed blobs in the
    # blob store (store/blobs.py); the database keeps what lists and links them:
    # one row per replay (its summary), one per segment (where its blob is), and
    # the error events seen during it. Projects get their recording settings.
    """
    ALTER TABLE projects ADD COLUMN replay_enabled INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE projects ADD COLUMN replay_sample_percent INTEGER NOT NULL DEFAULT 100;
    ALTER TABLE projects ADD COLUMN replay_min_seconds INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE projects ADD COLUMN replay_unmask_text INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE projects ADD COLUMN replay_record_media INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE replays (
        project_id INTEGER NOT NULL,
        replay_id TEXT NOT NULL,
        source TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        segments INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        distinct_id TEXT,
        first_url TEXT,
        clicks INTEGER NOT NULL DEFAULT 0,
        console_errors INTEGER NOT NULL DEFAULT 0,
        network_errors INTEGER NOT NULL DEFAULT 0,
        browser TEXT,
        os TEXT,
        device TEXT,
        environment TEXT,
        release TEXT,
        PRIMARY KEY (project_id, replay_id)
    ) WITHOUT ROWID;
    CREATE INDEX replays_by_time ON replays (project_id, started_at);
    CREATE INDEX replays_by_person ON replays (project_id, distinct_id, started_at);
    CREATE INDEX replays_by_end ON replays (project_id, ended_at);
    CREATE TABLE replay_segments (
        project_id INTEGER NOT NULL,
        replay_id TEXT NOT NULL,
        segment TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        events INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        blob_key TEXT NOT NULL,
        PRIMARY KEY (project_id, replay_id, segment)
    ) WITHOUT ROWID;
    CREATE TABLE replay_errors (
        project_id INTEGER NOT NULL,
        replay_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        issue_id INTEGER,
        linked_at REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, replay_id, event_id)
    ) WITHOUT ROWID;
    CREATE INDEX replay_errors_by_issue ON replay_errors (issue_id, replay_id);
    CREATE INDEX replay_errors_by_time ON replay_errors (project_id, linked_at);
    """,
    # 9: web analytics and people (store/web_rollups.py, store/people_store.py):
    # hourly rollups written in digest's transaction (events per name, pageviews,
    # sessions and bounces, top pages/referrers/clients), one row per session,
    # unique-visitor HyperLogLog registers per hour and per day, person profiles
    # and their distinct ids; indexes for the explorer (events by name, by
    # distinct id) and for a person's issues (issue_users by user).
    """
    CREATE TABLE event_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        name TEXT NOT NULL,
        events INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, hour, name)
    ) WITHOUT ROWID;
    CREATE TABLE web_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        pageviews INTEGER NOT NULL DEFAULT 0,
        sessions INTEGER NOT NULL DEFAULT 0,
        bounces INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, hour)
    ) WITHOUT ROWID;
    CREATE TABLE web_top_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        dimension TEXT NOT NULL,
        value TEXT NOT NULL,
        pageviews INTEGER NOT NULL DEFAULT 0,
        sessions INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, hour, dimension, value)
    ) WITHOUT ROWID;
    CREATE TABLE web_sessions (
        project_id INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        hour INTEGER NOT NULL,
        pageviews INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project_id, session_id)
    ) WITHOUT ROWID;
    CREATE INDEX web_sessions_by_hour ON web_sessions (project_id, hour);
    CREATE TABLE web_visitors_hourly (
        project_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        register INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (project_id, hour, register)
    ) WITHOUT ROWID;
    CREATE TABLE web_visitors_daily (
        project_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        register INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (project_id, day, register)
    ) WITHOUT ROWID;
    CREATE TABLE persons (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        properties TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        email TEXT,
        name TEXT,
        is_identified INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX persons_by_last_seen ON persons (project_id, last_seen, id);
    CREATE TABLE person_distinct_ids (
        project_id INTEGER NOT NULL,
        distinct_id TEXT NOT NULL,
        person_id INTEGER NOT NULL,
        PRIMARY KEY (project_id, distinct_id)
    );
    CREATE INDEX person_distinct_ids_by_person ON person_distinct_ids (person_id);
    CREATE INDEX events_by_name ON events (project_id, name, timestamp);
    CREATE INDEX events_by_distinct_id ON events (project_id, distinct_id, timestamp)
        WHERE distinct_id IS NOT NULL;
    CREATE INDEX issue_users_by_user ON issue_users (user_key, issue_id);
    """,
    # 10: alerts (alerts/, store/alert_store.py): rules, when each last fired for a
    # subject, the notifications they made and one delivery per action (the
    # outbox delivery threads claim and send), issue mutes, and who opted out
    # of alert emails.
    """
    CREATE TABLE alert_rules (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        trigger_kind TEXT NOT NULL,
        threshold REAL,
        window_seconds INTEGER NOT NULL,
        interval_seconds INTEGER NOT NULL,
        filters TEXT NOT NULL DEFAULT '{}',
        actions TEXT NOT NULL DEFAULT '[]',
        enabled INTEGER NOT NULL DEFAULT 1,
        snoozed_until REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        created_by INTEGER
    );
    CREATE INDEX alert_rules_by_project ON alert_rules (project_id, trigger_kind);
    CREATE TABLE alert_fires (
        rule_id INTEGER NOT NULL,
        subject TEXT NOT NULL,
        fired_at REAL NOT NULL,
        PRIMARY KEY (rule_id, subject)
    ) WITHOUT ROWID;
    CREATE TABLE alert_notifications (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        rule_id INTEGER,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX alert_notifications_by_project ON alert_notifications (project_id, created_at);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY,
        notification_id INTEGER NOT NULL REFERENCES alert_notifications(id) ON DELETE CASCADE,
        project_id INTEGER NOT NULL,
        action_json TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        lease_until REAL,
        last_error TEXT,
        sent_at REAL
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
    CREATE INDEX alert_deliveries_by_notification ON alert_deliveries (notification_id);
    CREATE TABLE issue_alert_mutes (
        issue_id INTEGER PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
        muted_until REAL,
        muted_by INTEGER
    );
    ALTER TABLE users ADD COLUMN alert_emails INTEGER NOT NULL DEFAULT 1;
    """,
    # 11: issue data. first/last release follow event time: the time of the events
    # that set them (first_release_at, last_release_at), backfilled from first/last seen.
    # Issue numbers per project (PROJ-12, as Sentry's short ids): existing issues
    # numbered in id order per project; issue_counters holds each project's last
    # number, so a deleted issue's number is never given again. New issues are
    # numbered as each one is created, digest being the one writer.
    """
    ALTER TABLE issues ADD COLUMN short_number INTEGER;
    ALTER TABLE issues ADD COLUMN first_release_at REAL;
    ALTER TABLE issues ADD COLUMN last_release_at REAL;
    UPDATE issues SET
        first_release_at = CASE WHEN first_release IS NOT NULL THEN first_seen END,
        last_release_at = CASE WHEN last_release IS NOT NULL THEN last_seen END;
    UPDATE issues SET short_number = numbered.n
    FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY id) AS n FROM issues)
        AS numbered
    WHERE issues.id = numbered.id;
    CREATE UNIQUE INDEX issues_by_short_number ON issues (project_id, short_number);
    CREATE TABLE issue_counters (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        last_number INTEGER NOT NULL
    );
    INSERT INTO issue_counters (project_id, last_number)
    SELECT project_id, MAX(short_number) FROM issues GROUP BY project_id;
    """,
    # 12: assignees and issue activity (store/issue_activity.py): one assignee per
    # issue (a member or a team), found by either for ``assigned:`` searches; the
    # activity log (status changes, regressions, assignments, comments) read per
    # issue, newest first.
    """
    CREATE TABLE issue_assignees (
        issue_id INTEGER PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
        user_id INTEGER,
        team_id INTEGER,
        assigned_at REAL NOT NULL,
        assigned_by INTEGER,
        CHECK ((user_id IS NULL) <> (team_id IS NULL))
    );
    CREATE INDEX issue_assignees_by_user ON issue_assignees (user_id, issue_id);
    CREATE INDEX issue_assignees_by_team ON issue_assignees (team_id, issue_id);
    CREATE TABLE issue_activity (
        id INTEGER PRIMARY KEY,
        issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        user_id INTEGER,
        data TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE INDEX issue_activity_by_issue ON issue_activity (issue_id, id);
    """,
    # 13: source maps (sourcemaps/, store/sourcemap_store.py): chunks uploaded by
    # sentry-cli awaiting assembly, artifact bundles (per organization, linked to
    # projects, optionally to a release and dist) and the files in them. File
    # contents and chunks are blobs in the blob store; these rows find them.
    """
    CREATE TABLE upload_chunks (
        organization_id INTEGER NOT NULL,
        checksum TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (organization_id, checksum)
    ) WITHOUT ROWID;
    CREATE INDEX upload_chunks_by_age ON upload_chunks (created_at);
    CREATE TABLE artifact_bundles (
        id INTEGER PRIMARY KEY,
        organization_id INTEGER NOT NULL REFERENCES organizations(id),
        checksum TEXT NOT NULL,
        release TEXT,
        dist TEXT,
        files INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        created_at REAL NOT NULL,
        used_at REAL NOT NULL,
        UNIQUE (organization_id, checksum)
    );
    CREATE TABLE artifact_bundle_projects (
        project_id INTEGER NOT NULL,
        bundle_id INTEGER NOT NULL REFERENCES artifact_bundles(id) ON DELETE CASCADE,
        PRIMARY KEY (project_id, bundle_id)
    ) WITHOUT ROWID;
    CREATE INDEX artifact_bundle_projects_by_bundle ON artifact_bundle_projects (bundle_id);
    CREATE TABLE artifact_files (
        bundle_id INTEGER NOT NULL REFERENCES artifact_bundles(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        url TEXT,
        file_type TEXT NOT NULL,
        debug_id TEXT,
        sourcemap TEXT,
        blob_key TEXT NOT NULL,
        size INTEGER NOT NULL,
        checksum TEXT NOT NULL,
        PRIMARY KEY (bundle_id, path)
    );
    CREATE INDEX artifact_files_by_debug_id ON artifact_files (debug_id, file_type)
        WHERE debug_id IS NOT NULL;
    CREATE INDEX artifact_files_by_url ON artifact_files (url) WHERE url IS NOT NULL;
    """,
    # 14: client addresses (digest/addresses.py). Whether the project keeps the
    # addresses of its users; when it does not (the default), each address is
    # replaced by a keyed hash, counted but not stored, under the project's salt.
    """
    ALTER TABLE projects ADD COLUMN store_ip_addresses INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE projects ADD COLUMN address_salt TEXT NOT NULL DEFAULT '';
    UPDATE projects SET address_salt = lower(hex(randomblob(16)));
    """,
    # 15: a generation's messages that came as OTLP log records before its span
    # (store/held_messages.py): held here until the span is stored, then merged
    # into its event; unique by content (a replayed batch holds nothing twice).
    """
    CREATE TABLE llm_held_messages (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        received_at REAL NOT NULL,
        checksum TEXT NOT NULL,
        messages BLOB NOT NULL,
        UNIQUE (project_id, event_id, checksum)
    );
    CREATE INDEX llm_held_messages_by_age ON llm_held_messages (received_at);
    """,
    # 16: full-text search over LLM calls (store/llm_search.py): each call's text in
    # llm_search_text, indexed by FTS5 (an external-content index kept in step by
    # triggers, so deleting a text row deletes it from the index too).
    """
    CREATE TABLE llm_search_text (
        id INTEGER PRIMARY KEY, -- the call's id in llm_events
        project_id INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX llm_search_text_by_time ON llm_search_text (project_id, timestamp);
    CREATE VIRTUAL TABLE llm_search USING fts5(
        body, content='llm_search_text', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER llm_search_text_added AFTER INSERT ON llm_search_text BEGIN
        INSERT INTO llm_search (rowid, body) VALUES (new.id, new.body);
    END;
    CREATE TRIGGER llm_search_text_deleted AFTER DELETE ON llm_search_text BEGIN
        INSERT INTO llm_search (llm_search, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    """,
    # 17: prompt management (store/prompt_store.py): a prompt per (project, name)
    # holding its newest version's number, its immutable versions (text or chat
    # messages as JSON, config JSON), and one row per label naming the version it
    # points at, so that a label points at exactly one version.
    """
    CREATE TABLE prompts (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        latest_version INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (project_id, name)
    );
    CREATE TABLE prompt_versions (
        prompt_id INTEGER NOT NULL REFERENCES prompts(id),
        version INTEGER NOT NULL,
        type TEXT NOT NULL,
        content TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        commit_message TEXT NOT NULL DEFAULT '',
        created_by INTEGER,
        created_at REAL NOT NULL,
        PRIMARY KEY (prompt_id, version)
    ) WITHOUT ROWID;
    CREATE TABLE prompt_labels (
        prompt_id INTEGER NOT NULL REFERENCES prompts(id),
        label TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        updated_by INTEGER,
        PRIMARY KEY (prompt_id, label)
    ) WITHOUT ROWID;
    """,
    # 18: scores on LLM output (store/score_store.py): one row per score, unique by
    # the id its sender gave (a replay or a correction replaces it), with the scored
    # generation's model, provider and prompt copied on (what summaries group by),
    # and the feature-flag values it carried, one row each.
    """
    CREATE TABLE llm_scores (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        score_id TEXT NOT NULL,
        name TEXT NOT NULL,
        data_type TEXT NOT NULL,
        value REAL,
        string_value TEXT,
        comment TEXT,
        source TEXT NOT NULL,
        trace_id TEXT,
        observation_id TEXT,
        session_id TEXT,
        author_id INTEGER,
        distinct_id TEXT,
        environment TEXT,
        timestamp REAL NOT NULL,
        hour INTEGER NOT NULL,
        created_at REAL NOT NULL,
        model TEXT,
        provider TEXT,
        prompt_name TEXT,
        prompt_version TEXT,
        UNIQUE (project_id, score_id)
    );
    CREATE INDEX llm_scores_by_time ON llm_scores (project_id, timestamp);
    CREATE INDEX llm_scores_by_trace ON llm_scores (project_id, trace_id)
        WHERE trace_id IS NOT NULL;
    CREATE INDEX llm_scores_by_observation ON llm_scores (project_id, observation_id)
        WHERE observation_id IS NOT NULL;
    CREATE INDEX llm_scores_by_session ON llm_scores (project_id, session_id)
        WHERE session_id IS NOT NULL;
    CREATE TABLE llm_score_flags (
        score_row INTEGER NOT NULL,
        project_id INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        flag TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (score_row, flag)
    );
    CREATE INDEX llm_score_flags_by_time ON llm_score_flags (project_id, timestamp);
    """,
    # 19: datasets and experiments (store/dataset_store.py): a dataset per (project,
    # name); its items, unique by the id their sender gave (JSON input, expected
    # output and metadata, the trace or generation they came from); runs, unique
    # by name in their dataset, with a status the experiment job moves; and run
    # items, one per (run, item), naming the trace their execution recorded:
    # what scores, cost and latency are joined on.
    """
    CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (project_id, name)
    );
    CREATE TABLE dataset_items (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id),
        item_id TEXT NOT NULL,
        input TEXT,
        expected_output TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        source_trace_id TEXT,
        source_observation_id TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (dataset_id, item_id)
    );
    CREATE TABLE dataset_runs (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{}',
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        prompt_name TEXT,
        prompt_version INTEGER,
        settings TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        cost_usd REAL NOT NULL DEFAULT 0,
        created_by INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        UNIQUE (dataset_id, name)
    );
    CREATE INDEX dataset_runs_by_status ON dataset_runs (status, updated_at);
    CREATE TABLE dataset_run_items (
        run_id INTEGER NOT NULL REFERENCES dataset_runs(id),
        item_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        observation_id TEXT,
        output TEXT,
        error TEXT,
        latency_s REAL,
        cost_usd REAL,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, item_id)
    );
    """,
    # 20: evaluators (evals/definition.py; store/evaluator_store.py): one row per
    # evaluator with its definition as JSON and where its background run is (the
    # last generation looked at); its usage per UTC day (what the daily budget is
    # checked against, added to, never overwritten); on-demand runs over a filter.
    """
    CREATE TABLE evaluators (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        definition TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        cursor_timestamp REAL NOT NULL DEFAULT 0,
        cursor_event_id TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (project_id, name)
    );
    CREATE TABLE evaluator_usage (
        evaluator_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        project_id INTEGER NOT NULL,
        scored INTEGER NOT NULL DEFAULT 0,
        passed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (evaluator_id, day)
    );
    CREATE TABLE evaluator_runs (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        evaluator_id INTEGER NOT NULL,
        filters TEXT NOT NULL,
        run_limit INTEGER NOT NULL,
        state TEXT NOT NULL,
        requested_by INTEGER,
        created_at REAL NOT NULL,
        finished_at REAL,
        scored INTEGER NOT NULL DEFAULT 0,
        passed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX evaluator_runs_by_state ON evaluator_runs (state, id);
    CREATE INDEX evaluator_runs_by_evaluator ON evaluator_runs (evaluator_id, id);
    """,
]
