/**
 * Risk: how concentrated the network is on any one provider, region, operator, country or ASN, and
 * what the outage of one such domain would take with it. Pure (no I/O, no clock); segments are read as
 * a stream. See risk.ts for the contract and definitions, report.ts for the report and the dry run,
 * concentration.ts for HHI and Nakamoto, asn.ts for how an ASN is derived (from self-declared labels).
 */

export { DRY_RUN_MAX_OBJECTS, HHI_DECIMALS, RISK_DIMENSIONS, SHARE_DECIMALS, WEIGHTINGS } from './risk.js'
export type {
  AffectedObject, AffectedObjects, Availability, BlastRadius, Concentration, DryRunOptions, EntityShare,
  Nakamoto, OutageDomain, OutageImpact, RiskDimension, RiskInput, RiskNode, RiskReport, RiskSegment,
  RiskTotals, Weighting
} from './risk.js'
export { InvalidRiskInputError } from './errors.js'
export { PROVIDER_ASNS, UNKNOWN_ASN, asnOf } from './asn.js'
export { concentration } from './concentration.js'
export { dryRunOutage, riskReport } from './report.js'
