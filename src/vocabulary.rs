//! The vocabulary of requests: which right is exercised, how it came in, where it stands, and the
//! tasks of its checklist. Every enum is stored and sent as its snake_case name.
//!
//! It sits below every domain module (catalog, connectors, policies, mail, packages, requests)
//! and imports none of them: they all speak it, so keeping it here keeps their imports acyclic.
//! The store's rows hold these enums too (`db::sql_text`).

/// Declares a closed vocabulary stored as snake_case text, with its wire and database names from
/// one derive so the two can never drift apart. Rows hold the enum itself: its `ToSql`/`FromSql`
/// are in `db::sql_text`.
///
/// A vocabulary whose names are not snake_case (webhook events, `request.received`) writes each
/// name after its variant, `RequestReceived = "request.received"`, and it is used on the wire and
/// in the store alike.
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $crate::vocabulary::vocabulary! {
            $(#[$meta])*
            pub enum $name { $($(#[$vmeta])* #[serde(rename = $wire)] #[strum(serialize = $wire)] $variant),+ }
        }
    };
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[derive(strum::EnumString, strum::IntoStaticStr, strum::Display, strum::VariantArray)]
        #[derive(diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// Every value, comma-separated, for error messages.
            pub fn expected() -> String {
                <Self as strum::VariantArray>::VARIANTS
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
    };
}

/// For the vocabularies kept beside their module (letters, webhook events).
pub(crate) use vocabulary;

vocabulary! {
    /// The right a person exercises.
    pub enum RequestKind {
        /// Art. 15: a copy of the data and the facts about its processing.
        Access,
        /// Art. 16: correct or complete the data.
        Rectification,
        /// Art. 17: erase, except what the law says must be kept.
        Erasure,
        /// Art. 18: keep but stop using.
        Restriction,
        /// Art. 20: the data the person provided, machine-readable.
        Portability,
        /// Art. 21: stop a processing based on legitimate interests or public task.
        Objection,
        /// Art. 22: a person reviews an automated decision.
        HumanReview,
    }
}

vocabulary! {
    /// How the request reached the organisation; the clock starts on any of them.
    pub enum Channel {
        Phone,
        Email,
        Letter,
        WebForm,
        Counter,
    }
}

vocabulary! {
    /// Where a request stands. Paused and extended are properties, not states.
    pub enum RequestState {
        Received,
        VerifyingIdentity,
        InProgress,
        AwaitingApproval,
        Completed,
        Refused,
        Withdrawn,
    }
}

vocabulary! {
    /// The language of the letters to the person.
    pub enum Language {
        Nl,
        En,
    }
}

vocabulary! {
    /// What kind of work a checklist task is.
    pub enum TaskKind {
        /// Send (or confirm the sending of) the receipt confirmation.
        ConfirmReceipt,
        /// Check that the requester is who they say they are, with what is on file.
        VerifyIdentity,
        /// Search the system and export what it holds on the person (access, portability).
        ExportData,
        /// Search the system and correct the data (rectification).
        CorrectData,
        /// Search the system and erase the data (erasure).
        EraseData,
        /// Mark the data restricted: stored, not used (restriction).
        RestrictData,
        /// Keep the data under a legal exception and block it until the duty ends (erasure).
        KeepUnderException,
        /// Review what a retention rule with a legal duty keeps where it names no table loket
        /// reaches: keep it by hand and record the end (erasure).
        ReviewRetention,
        /// Stop a processing activity for this person (objection).
        StopProcessing,
        /// Have a person review an automated decision (human review).
        ReviewDecision,
        /// Art. 19: tell a recipient about the rectification, erasure or restriction.
        NotifyRecipient,
        /// Put together the Art. 15(1) facts for the access answer.
        CompileAccessFacts,
        /// Send the answer letter.
        SendAnswer,
    }
}

vocabulary! {
    pub enum TaskState {
        Open,
        Done,
        NotApplicable,
    }
}

vocabulary! {
    /// What searching a system for the person found (issue 15): the access answer's facts cover
    /// exactly the systems where data was found.
    pub enum SearchOutcome {
        /// Data of the person is there (with the number of rows or records).
        Found,
        /// The system was searched and holds nothing of the person.
        NotFound,
        /// The system could not be searched (down, or no identifier it can search by).
        NotReachable,
    }
}

vocabulary! {
    /// How the question a pause waits for was put to the person.
    pub enum QuestionChannel {
        /// The clarification letter, e-mailed by loket.
        Email,
        /// Asked by phone, recorded with its date.
        Phone,
        /// Asked by letter through the post, recorded with its date.
        Post,
    }
}

vocabulary! {
    /// The grounds Art. 12(3) allows for extending the period by two months.
    pub enum ExtensionGround {
        /// The request is complex.
        Complexity,
        /// The number of requests received.
        NumberOfRequests,
    }
}

vocabulary! {
    /// Why the clock stopped.
    pub enum PauseReason {
        /// Waiting for the person to prove who they are.
        Identity,
        /// Waiting for the person to say what they mean.
        Clarification,
    }
}

vocabulary! {
    /// Why a request is refused in full (Art. 12(5), Art. 12(6), Art. 17(3), …).
    pub enum RefusalGround {
        /// Identity could not be established (Art. 12(6), Art. 11(2)).
        IdentityNotEstablished,
        /// Manifestly unfounded or excessive (Art. 12(5)); needs a written justification.
        ManifestlyUnfoundedOrExcessive,
        /// An exception of the right itself applies (e.g. Art. 17(3), Art. 21(1) compelling grounds).
        LegalException,
        /// No personal data of the requester is processed.
        NoDataProcessed,
    }
}

vocabulary! {
    /// How identity was checked. Never a copy of an ID document by default (AP guidance).
    pub enum VerificationMethod {
        /// The person is signed in to an existing account.
        ExistingLogin,
        /// A code sent to the e-mail address or phone number already on file was returned.
        CodeToKnownContact,
        /// Questions on data only the person and the organisation know, asked by an agent.
        KnownDetails,
        /// A representative showed their authorisation (kept with the request).
        RepresentativeAuthorisation,
        /// An ID document was checked and deleted right after; only the fact is kept.
        IdDocumentChecked,
        /// No reasonable doubt about identity (e.g. the request came from the address on file).
        NotNeeded,
    }
}

// What an agent proposes for a request awaiting an officer's approval (a plain comment: a doc
// comment would change the OpenAPI document's description of the type).
vocabulary! {
    pub enum ProposedOutcome {
        Completed,
        Refused,
    }
}

vocabulary! {
    /// Where a package stands.
    pub enum PackageState {
        /// Being read and sealed.
        Building,
        /// Sealed and downloadable through its link.
        Ready,
        /// Its blob is gone: spent, expired or withdrawn.
        Deleted,
        /// The build stopped; nothing can be downloaded.
        Failed,
    }
}

impl RequestState {
    /// No further transitions.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            RequestState::Completed | RequestState::Refused | RequestState::Withdrawn
        )
    }

    /// The states a request may move to from this one.
    pub fn allowed_next(self) -> &'static [RequestState] {
        use RequestState::*;
        match self {
            Received => &[VerifyingIdentity, InProgress, AwaitingApproval, Withdrawn],
            VerifyingIdentity => &[InProgress, AwaitingApproval, Withdrawn],
            InProgress => &[AwaitingApproval, Completed, Withdrawn],
            AwaitingApproval => &[InProgress, Completed, Refused, Withdrawn],
            Completed | Refused | Withdrawn => &[],
        }
    }

    pub fn can_move_to(self, next: RequestState) -> bool {
        self.allowed_next().contains(&next)
    }
}

impl RequestKind {
    /// The GDPR article of the right.
    pub fn article(self) -> &'static str {
        match self {
            RequestKind::Access => "Art. 15",
            RequestKind::Rectification => "Art. 16",
            RequestKind::Erasure => "Art. 17",
            RequestKind::Restriction => "Art. 18",
            RequestKind::Portability => "Art. 20",
            RequestKind::Objection => "Art. 21",
            RequestKind::HumanReview => "Art. 22",
        }
    }

    /// Whether a request of this kind is made on a ground the agent records: Art. 17(1) for an
    /// erasure, Art. 18(1) for a restriction.
    pub fn has_ground(self) -> bool {
        matches!(self, RequestKind::Erasure | RequestKind::Restriction)
    }

    /// Whether an agent may choose to keep data of a request of this kind under an exception
    /// of Art. 17(3).
    pub fn has_keep_choices(self) -> bool {
        self == RequestKind::Erasure
    }

    /// Whether recipients must be told of the outcome (Art. 19).
    pub fn notifies_recipients(self) -> bool {
        matches!(
            self,
            RequestKind::Rectification | RequestKind::Erasure | RequestKind::Restriction
        )
    }
}

impl TaskKind {
    /// Whether running a task of this kind can keep rows under an exception (recorded per row
    /// in loket's store): the erasure's and the keep's, which both decide what a duty keeps.
    pub fn may_keep_rows(self) -> bool {
        matches!(self, TaskKind::EraseData | TaskKind::KeepUnderException)
    }
}

impl TaskState {
    pub fn is_open(self) -> bool {
        self == TaskState::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn names_round_trip_through_text_and_json() {
        assert_eq!(RequestKind::HumanReview.as_str(), "human_review");
        assert_eq!(
            RequestKind::from_str("human_review").unwrap(),
            RequestKind::HumanReview
        );
        assert_eq!(
            serde_json::to_string(&RequestState::AwaitingApproval).unwrap(),
            "\"awaiting_approval\""
        );
        assert!(Channel::expected().contains("web_form"));
    }

    #[test]
    fn closed_states_allow_nothing() {
        for state in [
            RequestState::Completed,
            RequestState::Refused,
            RequestState::Withdrawn,
        ] {
            assert!(state.is_closed());
            assert!(state.allowed_next().is_empty());
        }
        assert!(!RequestState::InProgress.can_move_to(RequestState::Refused));
        assert!(RequestState::AwaitingApproval.can_move_to(RequestState::Refused));
    }
}

vocabulary! {
    /// What a webhook subscription can ask to be told; stored by its wire name in the event rows.
    pub enum WebhookEvent {
        /// A request was registered (a web-form request once its address is confirmed).
        RequestReceived = "request.received",
        IdentityVerified = "identity.verified",
        /// Due within the reminder window (`reminders.due_within_days`), once per request.
        RequestDueSoon = "request.due_soon",
        /// Past its due date and still open, once per request.
        RequestOverdue = "request.overdue",
        RequestCompleted = "request.completed",
        RequestRefused = "request.refused",
        SweepFinished = "sweep.finished",
    }
}
