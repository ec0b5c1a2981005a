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

diesel::joinable!(system_holdings -> systems (system_key));
diesel::joinable!(system_holdings -> data_categories (category_code));
diesel::joinable!(activity_categories -> processing_activities (activity_key));
diesel::joinable!(activity_categories -> data_categories (category_code));
diesel::joinable!(activity_systems -> processing_activities (activity_key));
diesel::joinable!(activity_systems -> systems (system_key));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    organisation,
    data_categories,
    systems,
    system_holdings,
    processing_activities,
    activity_categories,
    activity_systems,
    audit_events,
    audit_head,
);
