//! Table definitions shared by both backends. Written by hand (not `diesel print-schema`) because one
//! schema must describe the SQLite and the PostgreSQL migrations alike.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        session_epoch -> BigInt,
        team -> Nullable<Text>,
        email -> Nullable<Text>,
        language -> Text,
    }
}

diesel::table! {
    organisation (id) {
        id -> Integer,
        name -> Text,
        address -> Nullable<Text>,
        contact_email -> Text,
        dpo_name -> Nullable<Text>,
        dpo_email -> Nullable<Text>,
        updated_at -> Timestamp,
        kind -> Text,
        decision_body -> Nullable<Text>,
        joint_controllers -> Text,
        eu_representative -> Nullable<Text>,
    }
}

diesel::table! {
    data_categories (code) {
        code -> Text,
        name_nl -> Text,
        name_en -> Text,
        description -> Nullable<Text>,
        sensitivity -> Text,
        builtin -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    systems (key) {
        key -> Text,
        name -> Text,
        description -> Nullable<Text>,
        owner -> Text,
        hosting -> Nullable<Text>,
        processor -> Nullable<Text>,
        identifier_kinds -> Text,
        connector -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sql_mapping -> Nullable<Text>,
        hosting_country -> Nullable<Text>,
        http_definition -> Nullable<Text>,
        owner_email -> Nullable<Text>,
    }
}

diesel::table! {
    processing_for_others (key) {
        key -> Text,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    system_holdings (system_key, position) {
        system_key -> Text,
        position -> Integer,
        category_code -> Text,
        location -> Text,
        origin -> Text,
    }
}

diesel::table! {
    processing_activities (key) {
        key -> Text,
        name -> Text,
        description -> Nullable<Text>,
        purposes -> Text,
        legal_basis -> Nullable<Text>,
        legal_basis_detail -> Nullable<Text>,
        special_category_ground -> Nullable<Text>,
        criminal_data_basis -> Nullable<Text>,
        data_subjects -> Text,
        recipients -> Text,
        security_measures -> Text,
        source -> Nullable<Text>,
        automated_decision_logic -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        bsn_law -> Nullable<Text>,
    }
}

diesel::table! {
    activity_categories (activity_key, position) {
        activity_key -> Text,
        position -> Integer,
        category_code -> Text,
        retention -> Nullable<Text>,
    }
}

diesel::table! {
    activity_systems (activity_key, position) {
        activity_key -> Text,
        position -> Integer,
        system_key -> Text,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        summary -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    catalog_stamp (id) {
        id -> Integer,
        stamp -> BigInt,
    }
}

diesel::table! {
    requests (id) {
        id -> Text,
        reference -> Text,
        kind -> Text,
        channel -> Text,
        state -> Text,
        language -> Text,
        received_at -> Timestamp,
        due_on -> Date,
        extended -> Bool,
        extension_reason -> Nullable<Text>,
        identity_verified -> Bool,
        verification_method -> Nullable<Text>,
        verified_by -> Nullable<Text>,
        verified_at -> Nullable<Timestamp>,
        email_confirmed -> Bool,
        confirmation_code_hash -> Nullable<Text>,
        confirmation_expires_at -> Nullable<Timestamp>,
        confirmation_attempts -> Integer,
        name_enc -> Nullable<Text>,
        email_enc -> Nullable<Text>,
        customer_number_enc -> Nullable<Text>,
        phone_enc -> Nullable<Text>,
        details_enc -> Nullable<Text>,
        representative_enc -> Nullable<Text>,
        email_index -> Nullable<Text>,
        customer_number_index -> Nullable<Text>,
        phone_index -> Nullable<Text>,
        assignee -> Nullable<Text>,
        proposed_outcome -> Nullable<Text>,
        refusal_ground -> Nullable<Text>,
        decision_reason_enc -> Nullable<Text>,
        justification_enc -> Nullable<Text>,
        proposed_by -> Nullable<Text>,
        approved_by -> Nullable<Text>,
        version -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        copy_sent_by_post_on -> Nullable<Date>,
        extension_ground -> Nullable<Text>,
        partial_refusal_enc -> Nullable<Text>,
        bsn_enc -> Nullable<Text>,
        bsn_index -> Nullable<Text>,
        has_pauses -> Bool,
        has_comments -> Bool,
        has_owner_links -> Bool,
        has_packages -> Bool,
        has_attachments -> Bool,
        has_redactions -> Bool,
        has_recipients_asked -> Bool,
        has_keep_choices -> Bool,
        has_kept_rows -> Bool,
        has_ground -> Bool,
    }
}

diesel::table! {
    request_pauses (id) {
        id -> Text,
        request_id -> Text,
        started_on -> Date,
        ended_on -> Nullable<Date>,
        reason -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        question_enc -> Nullable<Text>,
        asked_via -> Nullable<Text>,
        ended_recorded_on -> Nullable<Date>,
    }
}

diesel::table! {
    request_tasks (id) {
        id -> Text,
        request_id -> Text,
        position -> Integer,
        kind -> Text,
        title_nl -> Text,
        title_en -> Text,
        system_key -> Nullable<Text>,
        activity_key -> Nullable<Text>,
        categories -> Text,
        recipient -> Nullable<Text>,
        legal_exception -> Nullable<Text>,
        keep_until -> Nullable<Date>,
        state -> Text,
        assignee -> Nullable<Text>,
        evidence_enc -> Nullable<Text>,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        outcome -> Nullable<Text>,
        found_rows -> Nullable<BigInt>,
    }
}

diesel::table! {
    task_comments (id) {
        id -> Text,
        task_id -> Text,
        author -> Text,
        body_enc -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        request_id -> Nullable<Text>,
        template -> Text,
        language -> Text,
        recipient_enc -> Text,
        subject_enc -> Text,
        body_enc -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sweep_runs (id) {
        id -> Text,
        rule -> Text,
        system_key -> Text,
        table_name -> Nullable<Text>,
        action -> Text,
        dry_run -> Bool,
        origin -> Text,
        scheduled_for -> Nullable<Timestamp>,
        cutoff -> Timestamp,
        status -> Text,
        holder -> Text,
        started_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        checkpoint -> Nullable<Text>,
        claim_end -> Nullable<Text>,
        claim_rows -> BigInt,
        batches -> BigInt,
        matched -> BigInt,
        changed -> BigInt,
        related -> BigInt,
        skipped_legal_hold -> BigInt,
        skipped_open_request -> BigInt,
        skipped_restriction -> BigInt,
        resumed -> Integer,
        error -> Nullable<Text>,
        claim_witness -> Nullable<Text>,
    }
}

diesel::table! {
    sweep_leases (rule) {
        rule -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    legal_holds (id) {
        id -> Text,
        system_key -> Nullable<Text>,
        identifier_kind -> Text,
        identifier_index -> Text,
        reason_enc -> Text,
        placed_by -> Text,
        placed_at -> Timestamp,
        lifted_by -> Nullable<Text>,
        lifted_at -> Nullable<Timestamp>,
        identifier_enc -> Nullable<Text>,
    }
}

diesel::table! {
    kept_rows (id) {
        id -> Text,
        request_id -> Text,
        system_key -> Text,
        table_name -> Text,
        row_hash -> Text,
        row_key_enc -> Text,
        exception -> Text,
        legal_basis -> Text,
        rule -> Nullable<Text>,
        keep_until -> Nullable<Date>,
        kept_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
        erased_by -> Nullable<Text>,
    }
}

diesel::table! {
    task_findings (task_id, system_key) {
        task_id -> Text,
        system_key -> Text,
        rows_found -> BigInt,
    }
}

diesel::table! {
    request_grounds (request_id) {
        request_id -> Text,
        ground -> Nullable<Text>,
        note_enc -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        recorded_at -> Nullable<Timestamp>,
        lift_reason_enc -> Nullable<Text>,
        lift_noticed_at -> Nullable<Timestamp>,
        lifted_by -> Nullable<Text>,
        lifted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    keep_choices (task_id) {
        task_id -> Text,
        request_id -> Text,
        system_key -> Text,
        exception -> Text,
        tables -> Text,
        reason_enc -> Text,
        keep_until -> Nullable<Date>,
        chosen_by -> Text,
        chosen_at -> Timestamp,
    }
}

diesel::table! {
    recipients_asked (request_id) {
        request_id -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    suppression_list (email_hash) {
        email_hash -> Text,
        request_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    package_keys (id) {
        id -> Text,
        key_enc -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    packages (id) {
        id -> Text,
        request_id -> Text,
        kind -> Text,
        language -> Text,
        state -> Text,
        key_id -> Nullable<Text>,
        sealed_bytes -> BigInt,
        plain_bytes -> BigInt,
        contents -> Text,
        passphrase_hash -> Nullable<Text>,
        failed_attempts -> Integer,
        max_downloads -> Integer,
        downloads -> Integer,
        expires_at -> Timestamp,
        created_by -> Text,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        deleted_reason -> Nullable<Text>,
        builder -> Nullable<Text>,
    }
}

diesel::table! {
    sealed_blobs (owner, seq) {
        owner -> Text,
        seq -> Integer,
        bytes -> Binary,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        request_id -> Text,
        task_id -> Text,
        system_key -> Nullable<Text>,
        name_enc -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    redactions (id) {
        id -> Text,
        request_id -> Text,
        system_key -> Nullable<Text>,
        table_name -> Nullable<Text>,
        column_name -> Nullable<Text>,
        row_key -> Nullable<Text>,
        attachment_id -> Nullable<Text>,
        reason_enc -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

// Issue 21: the requests of one call, and the readiness report's snapshots.
diesel::table! {
    request_calls (request_id) {
        request_id -> Text,
        call_id -> Text,
    }
}

diesel::table! {
    readiness_snapshots (id) {
        id -> Text,
        taken_at -> Timestamp,
        origin -> Text,
        score -> Integer,
        report -> Text,
    }
}

// Issue 22: tasks sent to a system's owner as a single-use link.
diesel::table! {
    owner_links (id) {
        id -> Text,
        request_id -> Text,
        task_id -> Text,
        system_key -> Text,
        token_hash -> Text,
        recipient_enc -> Text,
        language -> Text,
        note_enc -> Nullable<Text>,
        due_on -> Date,
        expires_at -> Timestamp,
        sent_by -> Text,
        sent_at -> Timestamp,
        reminded_at -> Nullable<Timestamp>,
        escalated_at -> Nullable<Timestamp>,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(owner_links -> requests (request_id));

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        secret_enc -> Text,
        events -> Text,
        active -> Bool,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        event -> Text,
        dedup_key -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        event_id -> Text,
        subscription_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        last_status_code -> Nullable<Integer>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    daily_job_runs (job, day) {
        job -> Text,
        day -> Date,
        started_at -> Timestamp,
    }
}

diesel::joinable!(request_calls -> requests (request_id));
diesel::joinable!(system_holdings -> systems (system_key));
diesel::joinable!(system_holdings -> data_categories (category_code));
diesel::joinable!(activity_categories -> processing_activities (activity_key));
diesel::joinable!(activity_categories -> data_categories (category_code));
diesel::joinable!(activity_systems -> processing_activities (activity_key));
diesel::joinable!(activity_systems -> systems (system_key));
diesel::joinable!(request_pauses -> requests (request_id));
diesel::joinable!(request_tasks -> requests (request_id));
diesel::joinable!(task_comments -> request_tasks (task_id));
diesel::joinable!(outbox -> requests (request_id));
diesel::joinable!(kept_rows -> requests (request_id));
diesel::joinable!(task_findings -> request_tasks (task_id));
diesel::joinable!(request_grounds -> requests (request_id));
diesel::joinable!(suppression_list -> requests (request_id));
diesel::joinable!(keep_choices -> requests (request_id));
diesel::joinable!(recipients_asked -> requests (request_id));
diesel::joinable!(packages -> requests (request_id));
diesel::joinable!(attachments -> requests (request_id));
diesel::joinable!(redactions -> requests (request_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    organisation,
    processing_for_others,
    data_categories,
    systems,
    system_holdings,
    processing_activities,
    activity_categories,
    activity_systems,
    audit_events,
    audit_head,
    requests,
    request_pauses,
    request_tasks,
    task_comments,
    outbox,
    sweep_runs,
    sweep_leases,
    legal_holds,
    kept_rows,
    task_findings,
    request_grounds,
    keep_choices,
    recipients_asked,
    suppression_list,
    package_keys,
    packages,
    sealed_blobs,
    attachments,
    redactions,
    request_calls,
    readiness_snapshots,
    owner_links,
    webhook_subscriptions,
    webhook_events,
    webhook_deliveries,
    daily_job_runs,
);
