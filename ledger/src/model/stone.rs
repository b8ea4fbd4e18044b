//! Stones and what is known about them: origin, weight, 4Cs, cutter, lab reports,
//! and the state the ledger keeps per stone (custodian, status, flag).

use std::fmt;
use std::io::{self, Read, Write};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{Code, Description, Name, CARATS_MAX, MANUFACTURE_OUTPUTS_MAX};
use crate::codec::BoundedVec;
use crate::ids::{Digest, OrgId, ProposalId, StoneId};

/// A weight in hundredths of a carat (jewellers' "points"): integers keep the
/// carat arithmetic of manufacture exact and the encoding canonical.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct Carats(pub u64);

impl Carats {
    /// Whole carats with two decimals, e.g. `12.05 ct`.
    pub fn display(self) -> String {
        format!("{}.{:02} ct", self.0 / 100, self.0 % 100)
    }

    /// True when above [`CARATS_MAX`].
    pub fn is_implausible(self) -> bool {
        self > CARATS_MAX
    }
}

impl fmt::Debug for Carats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl fmt::Display for Carats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// An ISO 3166-1 alpha-2 country code (two upper-case ASCII letters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses two letters, upper-casing them.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let upper = text.trim().to_ascii_uppercase();
        let bytes: [u8; 2] = upper
            .as_bytes()
            .try_into()
            .map_err(|_| "a country code is two letters (ISO 3166-1 alpha-2)")?;
        Self::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; 2]) -> Result<Self, &'static str> {
        if bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Self(bytes))
        } else {
            Err("a country code is two letters (ISO 3166-1 alpha-2)")
        }
    }

    /// The two letters.
    pub fn as_str(&self) -> &str {
        // Construction admits only ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> String {
        code.as_str().to_owned()
    }
}

impl BorshSerialize for CountryCode {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        writer.write_all(&self.0)
    }
}

impl BorshDeserialize for CountryCode {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let bytes = <[u8; 2]>::deserialize_reader(reader)?;
        Self::from_bytes(bytes).map_err(invalid)
    }
}

/// A calendar date (proleptic Gregorian), e.g. an extraction date.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A checked date.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, &'static str> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err("month must be 1 to 12"),
        };
        if day == 0 || day > days {
            return Err("day is not in that month");
        }
        if !(1800..=9999).contains(&year) {
            return Err("year must be between 1800 and 9999");
        }
        Ok(Self { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const SHAPE: &str = "a date is written YYYY-MM-DD";
        let mut parts = text.trim().split('-');
        let mut next = |width: usize| -> Result<u16, &'static str> {
            let part = parts.next().ok_or(SHAPE)?;
            if part.len() != width || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SHAPE);
            }
            part.parse::<u16>().map_err(|_| SHAPE)
        };
        let year = next(4)?;
        let month = next(2)? as u8;
        let day = next(2)? as u8;
        if parts.next().is_some() {
            return Err(SHAPE);
        }
        Self::new(year, month, day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<String> for Date {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

impl BorshSerialize for Date {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        BorshSerialize::serialize(&self.year, writer)?;
        BorshSerialize::serialize(&self.month, writer)?;
        BorshSerialize::serialize(&self.day, writer)
    }
}

impl BorshDeserialize for Date {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let year = u16::deserialize_reader(reader)?;
        let month = u8::deserialize_reader(reader)?;
        let day = u8::deserialize_reader(reader)?;
        Self::new(year, month, day).map_err(invalid)
    }
}

/// Where and when a rough stone came out of the ground.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Origin {
    /// The mine's name.
    pub mine: Name,
    /// The country of extraction.
    pub country: CountryCode,
    /// Region or province within the country.
    pub region: Name,
    /// The date of extraction.
    pub extracted_on: Date,
}

/// A rough stone's weight and appearance as registered at the mine.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RoughInfo {
    /// Weight of the rough.
    pub carats: Carats,
    /// What the producer saw: colour, shape, inclusions.
    pub description: Description,
}

/// The 4C data of a polished stone, plus its shape.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct FourCs {
    /// Weight.
    pub carats: Carats,
    /// Colour grade (for example `D` or `G`).
    pub colour: Code,
    /// Clarity grade (for example `VVS1`).
    pub clarity: Code,
    /// Cut grade (for example `Excellent`).
    pub cut: Code,
}

/// One polished stone produced by a manufacture.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PolishedOutput {
    /// The new stone's id.
    pub stone_id: StoneId,
    /// Its shape (for example `round brilliant`).
    pub shape: Code,
    /// Its 4Cs as declared by the manufacturer.
    pub four_cs: FourCs,
}

/// Who cut a stone: buyers see the cutter's name and experience.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Cutter {
    /// The cutter's name.
    pub name: Name,
    /// Years of cutting experience.
    pub experience_years: u16,
}

/// A grading laboratory's report on a stone. The lab is the transaction's signer.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LabReport {
    /// The report number, laser-inscribed on the stone.
    pub report_number: Code,
    /// The lab's own 4C grading.
    pub four_cs: FourCs,
    /// Whether the lab matched the stone to its registered rough and origin.
    pub origin_matched: bool,
    /// Blake3 of the full report document, kept off the ledger.
    pub report_hash: Digest,
}

/// Why a stone was flagged. A flagged stone cannot move.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum FlagReason {
    /// Reported stolen.
    Stolen,
    /// Reported lost.
    Lost,
    /// Under dispute between parties.
    Disputed,
}

impl fmt::Display for FlagReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlagReason::Stolen => "stolen",
            FlagReason::Lost => "lost",
            FlagReason::Disputed => "disputed",
        })
    }
}

/// Whether a stone still exists as itself.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum StoneStatus {
    /// In the trade: may be transferred, cut, graded or sold.
    Active,
    /// A rough that was cut into polished stones.
    Consumed,
    /// Sold to a consumer: final.
    Sold,
}

/// What kind of stone this is, and what it descends from.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum StoneKind {
    /// Registered at the mine.
    Rough {
        /// Weight and appearance.
        rough: RoughInfo,
        /// The Kimberley Process certificate covering the parcel it was exported in.
        kp_certificate: Code,
        /// The producer that registered it.
        producer: OrgId,
    },
    /// Cut from a rough.
    Polished {
        /// The rough it was cut from.
        parent: StoneId,
        /// Shape and declared 4Cs.
        output: PolishedOutput,
        /// Who cut it.
        cutter: Cutter,
    },
}

/// A lab's grading as remembered in the stone's state.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GradeSummary {
    /// The lab that graded it.
    pub lab: OrgId,
    /// The report.
    pub report: LabReport,
}

/// The ledger's current knowledge of one stone.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Stone {
    /// Its id.
    pub id: StoneId,
    /// Rough or polished, with its descent.
    pub kind: StoneKind,
    /// Where it came from (copied from the rough for polished stones).
    pub origin: Origin,
    /// The member holding it.
    pub custodian: OrgId,
    /// Active, consumed or sold.
    pub status: StoneStatus,
    /// Set while the stone is flagged.
    pub flag: Option<FlagReason>,
    /// The open transfer proposal that includes it, if any.
    pub open_proposal: Option<ProposalId>,
    /// The latest lab grading, if any.
    pub grade: Option<GradeSummary>,
    /// Polished stones cut from it (roughs only, once consumed).
    pub outputs: BoundedVec<StoneId, MANUFACTURE_OUTPUTS_MAX>,
    /// Height of the block that created it.
    pub created_at: u64,
    /// How many events concern it; the next event's sequence number.
    pub event_count: u32,
}

impl Stone {
    /// A newly created, active, unflagged stone with no events yet.
    pub fn new(
        id: StoneId,
        kind: StoneKind,
        origin: Origin,
        custodian: OrgId,
        created_at: u64,
    ) -> Stone {
        Stone {
            id,
            kind,
            origin,
            custodian,
            status: StoneStatus::Active,
            flag: None,
            open_proposal: None,
            grade: None,
            outputs: BoundedVec::empty(),
            created_at,
            event_count: 0,
        }
    }

    /// The stone's own weight (rough weight or polished weight).
    pub fn carats(&self) -> Carats {
        match &self.kind {
            StoneKind::Rough { rough, .. } => rough.carats,
            StoneKind::Polished { output, .. } => output.four_cs.carats,
        }
    }

    /// The rough it was cut from, for polished stones.
    pub fn parent(&self) -> Option<&StoneId> {
        match &self.kind {
            StoneKind::Rough { .. } => None,
            StoneKind::Polished { parent, .. } => Some(parent),
        }
    }
}
