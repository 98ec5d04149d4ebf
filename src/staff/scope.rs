//! Whose records a staff member sees and acts on (issue 29). An account of a local
//! agency works that agency's live calls, callback requests, requests, recordings and
//! payments only; a statewide account (no agency) sees every agency's and the statewide
//! unit's own (records with no agency), and may narrow a listing to one agency.
//!
//! Decided here, once, from the signed-in [`Staff`]: the handlers ask a [`Scope`] and
//! pass it to the store, which filters in SQL. A record outside the scope answers as a
//! missing one does (the same status and body), so an id cannot be probed.

use super::{Staff, StaffError};
use crate::domain::agencies::Agencies;

/// The records a request may see and act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every agency's and the statewide unit's: a statewide account.
    All,
    /// One agency's (its id in the agencies file).
    Agency(String),
}

impl Scope {
    /// What `staff` may see and act on: their agency's, or all for a statewide account.
    pub fn of(staff: &Staff) -> Scope {
        match &staff.agency {
            Some(id) => Scope::Agency(id.clone()),
            None => Scope::All,
        }
    }

    /// What a listing shows `staff`, who may ask for one agency's (`?agency=ID`): a
    /// statewide account gets that agency's (an id the agencies file does not have is
    /// refused as a bad request); a local account may name only its own.
    pub fn listing(
        staff: &Staff,
        filter: Option<&str>,
        agencies: Option<&Agencies>,
    ) -> Result<Scope, StaffError> {
        let Some(wanted) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
            return Ok(Scope::of(staff));
        };
        match &staff.agency {
            Some(own) if own == wanted => Ok(Scope::of(staff)),
            Some(_) => Err(StaffError::OtherAgency),
            None => {
                check_agency(agencies, wanted).map_err(StaffError::BadRequest)?;
                Ok(Scope::Agency(wanted.to_string()))
            }
        }
    }

    /// Whether a record of `agency` (none: the statewide unit's) is in the scope.
    pub fn sees(&self, agency: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Agency(id) => agency == Some(id.as_str()),
        }
    }

    /// The agency a query keeps to (`WHERE agency = $n`); `None`: every row.
    pub fn agency(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Agency(id) => Some(id),
        }
    }
}

/// Checks an agency id an account or a filter names against the agencies file: without
/// a file there are no agencies, so every id is refused.
pub fn check_agency(agencies: Option<&Agencies>, id: &str) -> Result<(), String> {
    let Some(agencies) = agencies else {
        return Err(format!(
            "no agency '{id}': the server has no agencies file (CASELINE_AGENCIES_FILE)"
        ));
    };
    if agencies.by_id(id).is_some() {
        Ok(())
    } else {
        Err(format!("no agency '{id}' in {}", agencies.file().display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::staff::Role;

    fn member(agency: Option<&str>) -> Staff {
        Staff {
            id: 1,
            name: "dana".into(),
            role: Role::Supervisor,
            agency: agency.map(String::from),
        }
    }

    #[test]
    fn a_local_account_sees_its_agency_alone_and_a_statewide_one_all() {
        let fresno = Scope::of(&member(Some("fresno")));
        assert!(fresno.sees(Some("fresno")));
        assert!(!fresno.sees(Some("kern")));
        assert!(!fresno.sees(None), "the statewide unit's records");
        assert_eq!(fresno.agency(), Some("fresno"));
        let all = Scope::of(&member(None));
        assert!(all.sees(Some("kern")) && all.sees(None));
        assert_eq!(all.agency(), None);
    }

    #[test]
    fn a_listing_filter_narrows_a_statewide_account_only() {
        let local = member(Some("fresno"));
        assert_eq!(
            Scope::listing(&local, Some("fresno"), None).unwrap(),
            Scope::Agency("fresno".into())
        );
        assert!(matches!(
            Scope::listing(&local, Some("kern"), None),
            Err(StaffError::OtherAgency)
        ));
        assert_eq!(
            Scope::listing(&local, None, None).unwrap(),
            Scope::Agency("fresno".into())
        );
        let statewide = member(None);
        assert_eq!(
            Scope::listing(&statewide, Some(""), None).unwrap(),
            Scope::All
        );
        // Without an agencies file there is no agency to filter by.
        assert!(matches!(
            Scope::listing(&statewide, Some("kern"), None),
            Err(StaffError::BadRequest(_))
        ));
        assert!(
            check_agency(None, "kern")
                .unwrap_err()
                .contains("no agencies file")
        );
    }
}
