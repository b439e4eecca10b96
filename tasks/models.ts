/**
 * The models table: the Bedrock models this project uses or mentions, with what Bedrock's
 * documentation says about each (model card, model lifecycle page, inference profiles page). One
 * source, read by infra/local (the local Bedrock refuses what Bedrock refuses) and by the tasks
 * (the cost of an answer) and by infra/aws (the default model, its profile and IAM: issue 15).
 *
 * Only what the documentation gives is here: a field the docs did not give is left out and says so.
 * Lifecycle dates are Bedrock's own ("only the dates on the model card apply"), in UTC days: a
 * model is refused from 00:00 UTC of its end-of-life date.
 *
 *   findModel(id)                  bare model id, inference profile id, or either's ARN
 *   availability(id, region, date) callable there and then, or why not (Bedrock's refusal)
 *   profileForRegion(id, region)   the inference profile of the Region's geography
 *   modelInvokeArns(id, location)  what IAM must allow InvokeModel* on
 */
import type { AwsLocation } from './aws-location.ts';

export const LIFECYCLE_STATUSES = ['ACTIVE', 'LEGACY', 'END_OF_LIFE'] as const;
export type LifecycleStatus = (typeof LIFECYCLE_STATUSES)[number];

/** The geographies of system-defined (cross-Region) inference profiles, as their id prefixes. */
export const GEOGRAPHIES = ['us', 'eu', 'apac', 'global'] as const;
export type Geography = (typeof GEOGRAPHIES)[number];

/** On-demand price in USD per 1,000 tokens. */
export interface TokenPrice {
  readonly inputPer1k: number;
  readonly outputPer1k: number;
}

export interface ModelEntry {
  /** The base model id (on-demand throughput, in-Region). */
  readonly modelId: string;
  readonly name: string;
  /** The documentation page the entry comes from (others are named beside the field). */
  readonly source: string;
  /** System-defined inference profile ids by geography, as the docs list them. */
  readonly profiles: Readonly<Partial<Record<Geography, string>>>;
  /** Destination Regions of a profile, where the model's card lists them (else GEOGRAPHY_DESTINATIONS). */
  readonly destinations?: Readonly<Partial<Record<Exclude<Geography, 'global'>, readonly string[]>>>;
  /**
   * The model may be invoked by its bare id with on-demand throughput. When false, Bedrock answers
   * ValidationException and names an inference profile as the way (ON_DEMAND_UNSUPPORTED).
   */
  readonly onDemand: boolean;
  /** Day the model enters Legacy, where the docs give it. */
  readonly legacyDate?: string;
  /** Day the model reaches end of life (EOL), where the docs give it. */
  readonly endOfLifeDate?: string;
  /** Regions where the card states another lifecycle than the model's own (no EOL date given there). */
  readonly regionalLifecycle?: Readonly<Record<string, Exclude<LifecycleStatus, 'END_OF_LIFE'>>>;
  /**
   * On-demand price (Standard tier, text tokens) with the page it was read from; `undefined` when
   * no such page gave one (reports then say "price unknown"; docs/fidelity.md says so). Always
   * present, so an entry says one or the other.
   */
  readonly price: TokenPrice | undefined;
  /** Where `price` was read, or why it is undefined. */
  readonly priceSource: string;
}

/**
 * Prices: the Amazon Bedrock pricing page (https://aws.amazon.com/bedrock/pricing/) renders its
 * figures client-side, and neither the documentation index nor the stored pages hold its figures
 * (searched again for issue 17: only third-party pages quote prices, and they disagree), so no
 * entry has a price and costUsd() answers undefined: `npm run usage` says "price unknown". Add a
 * figure here only with the page it was read from, in USD per 1,000 tokens for the deploy Region.
 *
 * Inference profiles are priced as their model in the Region the call is made from: "There's no
 * additional routing cost for using cross-Region inference. The price is calculated based on the
 * Region from which you call an inference profile"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html, General
 * considerations; its comparison table: geographic "Standard pricing", global "Approximately 10%
 * savings"; https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html:
 * "approximately 10% savings on both input and output token pricing compared to geographic
 * cross-Region inference", stated for Claude Sonnet 4.5). So a geographic profile (us., eu.) costs
 * the model's price in the source Region; a global. profile's price is not the same figure, and the
 * table keeps no separate one: a usage key naming a global profile is priced unknown.
 */
const PRICE_NOT_FOUND =
  'unknown: the Amazon Bedrock pricing page (https://aws.amazon.com/bedrock/pricing/) renders its prices client-side; no AWS page in the documentation index states this model\'s price';

export const MODELS: readonly ModelEntry[] = [
  {
    // The project's default until issue 15.
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    name: 'Claude 3 Haiku',
    source: 'https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.html',
    // The us. profile: https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
    profiles: { us: 'us.anthropic.claude-3-haiku-20240307-v1:0' },
    onDemand: true,
    // "In most Regions, Claude 3 Haiku reached end of life on September 10, 2026, where requests now
    // fail with ResourceNotFoundException"; the card gives no Legacy start date.
    endOfLifeDate: '2026-09-10',
    // "It remains available in ca-central-1, eu-central-2 and sa-east-1, and in Legacy in
    // ap-northeast-2" (the card); no end-of-life date is given for these Regions.
    regionalLifecycle: { 'ca-central-1': 'LEGACY', 'eu-central-2': 'LEGACY', 'sa-east-1': 'LEGACY', 'ap-northeast-2': 'LEGACY' },
    price: undefined,
    priceSource: PRICE_NOT_FOUND,
  },
  {
    modelId: 'anthropic.claude-haiku-4-5-20251001-v1:0',
    name: 'Claude Haiku 4.5',
    // Model lifecycle: Active; no Legacy or end-of-life date on the card.
    source: 'https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-haiku-4-5.html',
    // The card's "Programmatic access" table: the model id with an in-Region endpoint, then the
    // geographic and global inference ids. The index's copy of the card stops after the eu. id, so
    // apac. and global. are not listed here.
    profiles: { us: 'us.anthropic.claude-haiku-4-5-20251001-v1:0', eu: 'eu.anthropic.claude-haiku-4-5-20251001-v1:0' },
    onDemand: true,
    price: undefined,
    priceSource: PRICE_NOT_FOUND,
  },
  {
    modelId: 'amazon.nova-2-lite-v1:0',
    name: 'Amazon Nova 2 Lite',
    // The Nova 2 user guide lists only inference profile ids to invoke it with ("Set the modelId to
    // one of the following"); profiles are named after their model, hence the base id.
    source: 'https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html',
    profiles: { us: 'us.amazon.nova-2-lite-v1:0', global: 'global.amazon.nova-2-lite-v1:0' },
    onDemand: false,
    price: undefined,
    priceSource: PRICE_NOT_FOUND,
  },
];

/** How a request names a model. */
export interface ModelRef {
  readonly model: ModelEntry;
  /** By its own id (on-demand) or through an inference profile. */
  readonly via: 'model' | 'profile';
  readonly geography?: Geography;
  /** The id the request used, ARN stripped. */
  readonly id: string;
}

const ARN = /^arn:aws[\w-]*:bedrock:[a-z0-9-]*:(\d{12})?:(foundation-model|inference-profile)\/(.+)$/;

/** The model a bare id, a profile id or either's ARN names; undefined when the table has none. */
export function findModel(identifier: string): ModelRef | undefined {
  const arn = ARN.exec(identifier);
  const id = arn ? arn[3]! : identifier;
  const kind = arn?.[2];
  for (const model of MODELS) {
    if (model.modelId === id && kind !== 'inference-profile') return { model, via: 'model', id };
    const geography = GEOGRAPHIES.find((g) => model.profiles[g] === id);
    if (geography && kind !== 'foundation-model') return { model, via: 'profile', geography, id };
  }
  return undefined;
}

const dayOf = (date: Date): string => date.toISOString().slice(0, 10);

/** The model's lifecycle status in `region` on `date`. */
export function lifecycleOf(model: ModelEntry, region: string, date: Date): LifecycleStatus {
  const regional = model.regionalLifecycle?.[region];
  if (regional) return regional;
  const day = dayOf(date);
  if (model.endOfLifeDate && day >= model.endOfLifeDate) return 'END_OF_LIFE';
  if (model.legacyDate && day >= model.legacyDate) return 'LEGACY';
  return 'ACTIVE';
}

export type Availability =
  | { readonly available: true; readonly ref: ModelRef; readonly status: Exclude<LifecycleStatus, 'END_OF_LIFE'> }
  | { readonly available: false; readonly reason: 'UNKNOWN_MODEL' }
  | { readonly available: false; readonly reason: 'END_OF_LIFE'; readonly ref: ModelRef }
  | { readonly available: false; readonly reason: 'PROFILE_REQUIRED'; readonly ref: ModelRef };

/** Whether a call naming `identifier` from `region` on `date` reaches the model, or why not. */
export function availability(identifier: string, region: string, date: Date): Availability {
  const ref = findModel(identifier);
  if (!ref) return { available: false, reason: 'UNKNOWN_MODEL' };
  const status = lifecycleOf(ref.model, region, date);
  if (status === 'END_OF_LIFE') return { available: false, reason: 'END_OF_LIFE', ref };
  if (ref.via === 'model' && !ref.model.onDemand) return { available: false, reason: 'PROFILE_REQUIRED', ref };
  return { available: true, ref, status };
}

/** What Bedrock answers when it refuses a model (the wording the docs and AWS's responses show). */
export const MODEL_REFUSALS = {
  /** ResourceNotFoundException (404): the model card. */
  endOfLife: 'This model version has reached the end of its life.',
  /** ValidationException (400), as AWS answers it (the apostrophe is AWS's U+2019). */
  onDemandUnsupported: (modelId: string) =>
    `Invocation of model ID ${modelId} with on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`,
  /** ValidationException (400) for an id Bedrock does not know (AWS re:Post knowledge center). */
  invalidIdentifier: 'The provided model identifier is invalid.',
} as const;

/**
 * Which refusal a Bedrock error is, from its name and message (MODEL_REFUSALS); undefined for any
 * other error. Either apostrophe is accepted in the on-demand refusal.
 */
export function modelRefusalOf(err: { name?: string; message?: string }): Exclude<Availability, { available: true }>['reason'] | undefined {
  const message = err.message ?? '';
  if (err.name === 'ResourceNotFoundException' && message.startsWith(MODEL_REFUSALS.endOfLife)) return 'END_OF_LIFE';
  if (err.name !== 'ValidationException') return undefined;
  if (/^Invocation of model ID \S+ with on-demand throughput isn['\u2019]t supported\./.test(message)) return 'PROFILE_REQUIRED';
  if (message.startsWith(MODEL_REFUSALS.invalidIdentifier)) return 'UNKNOWN_MODEL';
  return undefined;
}

/** The one sentence that says why a model cannot be used, for people (npm start, logs). */
export function describeUnavailable(identifier: string, region: string, a: Exclude<Availability, { available: true }>): string {
  switch (a.reason) {
    case 'UNKNOWN_MODEL':
      return `${identifier} is not in the models table (tasks/models.ts): ${MODELS.map((m) => m.modelId).join(', ')}, or one of their inference profiles.`;
    case 'END_OF_LIFE':
      return `${a.ref.model.name} reached end of life on ${a.ref.model.endOfLifeDate} in ${region} (${a.ref.model.source}).`;
    case 'PROFILE_REQUIRED': {
      const profiles = Object.values(a.ref.model.profiles);
      return `${a.ref.model.name} cannot be invoked by its model id on demand: use an inference profile (${profiles.join(', ')}).`;
    }
  }
}

/**
 * The destination Regions of each geography's system-defined profiles. Bedrock now lists them per
 * model on the model card, and the documentation index's copies of the cards stop before that
 * table; so this is the geography's list from AWS's CDK reference
 * (https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_bedrock_alpha/CrossRegionInferenceProfileRegion.html,
 * "According to the model chosen, this might include"): a superset, so that IAM never misses a
 * Region a profile can route to. A model's own `destinations` take precedence where a card gives them.
 */
export const GEOGRAPHY_DESTINATIONS: Readonly<Record<Exclude<Geography, 'global'>, readonly string[]>> = {
  us: ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'],
  eu: ['eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3'],
  apac: [
    'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2',
    'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-7', 'ap-east-2', 'me-central-1',
  ],
};

/** The geography whose profiles a deployment in `region` uses; undefined outside us/eu/apac. */
export function geographyOfRegion(region: string): Exclude<Geography, 'global'> | undefined {
  return (Object.keys(GEOGRAPHY_DESTINATIONS) as Exclude<Geography, 'global'>[]).find((g) => GEOGRAPHY_DESTINATIONS[g].includes(region));
}

/** The model a new deployment uses (CDK and `npm start`): current, Active on its card. */
export const DEFAULT_MODEL_ID = 'anthropic.claude-haiku-4-5-20251001-v1:0';

/**
 * The inference profile of `region`'s geography for `modelId` (a bare model id of the table). Throws
 * a sentence for people when the table has no such profile: the deployment must name a model.
 */
export function profileForRegion(modelId: string, region: string): string {
  const model = MODELS.find((m) => m.modelId === modelId);
  if (!model) throw new Error(`${modelId} is not in the models table (tasks/models.ts).`);
  const geography = geographyOfRegion(region);
  const profile = geography ? model.profiles[geography] : undefined;
  if (!geography || !profile) {
    const listed = Object.values(model.profiles).join(', ') || 'none';
    throw new Error(
      `${model.name} has no inference profile in tasks/models.ts for ${region} (geography ${geography ?? 'unknown'}; profiles listed: ${listed}). ` +
        'Name a model or profile callable from this Region with -c modelId=<id>, or add the profile to the models table from its model card.',
    );
  }
  return profile;
}

/**
 * Every ARN IAM must allow `bedrock:InvokeModel*` on for requests naming `identifier` from
 * `location` (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html,
 * geographic-cross-region-inference.html, global-cross-region-inference.html):
 *  - a bare model id: the foundation model in the deploy Region;
 *  - a geographic profile: the profile (deploy Region, account) and the foundation model in the
 *    deploy Region and in every destination Region of the geography;
 *  - a global profile: the profile, the foundation model in the deploy Region, and the foundation
 *    model with no Region (`arn:aws:bedrock:::foundation-model/<id>`: any commercial Region).
 * A profile id the table does not hold is refused: its destination Regions are unknown.
 */
export function modelInvokeArns(identifier: string, location: AwsLocation): string[] {
  const { partition, region, accountId } = location;
  const ref = findModel(identifier);
  if (!ref) {
    if (identifier.startsWith('arn:')) return [identifier];
    if (looksLikeProfile(identifier)) {
      throw new Error(`${identifier} is not in the models table (tasks/models.ts): its destination Regions are unknown, so no IAM policy can be generated for it.`);
    }
    return [`arn:${partition}:bedrock:${region}::foundation-model/${identifier}`];
  }
  const model = (r: string) => `arn:${partition}:bedrock:${r}::foundation-model/${ref.model.modelId}`;
  if (ref.via === 'model') return [model(region)];
  const profileArn = `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${ref.id}`;
  if (ref.geography === 'global') return [profileArn, model(region), model('')];
  const destinations = ref.model.destinations?.[ref.geography!] ?? GEOGRAPHY_DESTINATIONS[ref.geography!];
  return [...new Set([profileArn, model(region), ...destinations.map(model)])];
}

/** True when `id` has the form of a system-defined inference profile id (`us.`, `eu.`, ...). */
function looksLikeProfile(id: string): boolean {
  return GEOGRAPHIES.some((g) => id.startsWith(`${g}.`));
}

/**
 * The ARN that IAM authorises `bedrock:InvokeModel` on for a request naming `identifier`: the
 * inference profile's (account-scoped) or the foundation model's (no account). An ARN is itself.
 */
export function modelResourceArn(identifier: string, location: AwsLocation): string {
  if (identifier.startsWith('arn:')) return identifier;
  const { partition, region, accountId } = location;
  const ref = findModel(identifier);
  const profile = ref ? ref.via === 'profile' : looksLikeProfile(identifier);
  return profile
    ? `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${identifier}`
    : `arn:${partition}:bedrock:${region}::foundation-model/${identifier}`;
}

export interface TokenCounts {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * The price of calls naming `identifier` (a model id, a profile id or an ARN, as usage is keyed):
 * the model's own for its bare id and its geographic profiles (priced as the model in the source
 * Region: see MODELS), undefined for a global profile (priced differently, no figure kept), for a
 * model without a price and for an id the table does not hold.
 */
export function priceOf(identifier: string, table: readonly ModelEntry[] = MODELS): TokenPrice | undefined {
  const id = ARN.exec(identifier)?.[3] ?? identifier;
  const model = table.find((m) => m.modelId === id || (['us', 'eu', 'apac'] as const).some((g) => m.profiles[g] === id));
  return model?.price;
}

/** The on-demand cost of `usage` at `price`, in USD; undefined when the price is unknown. */
export function costUsd(usage: TokenCounts, price: TokenPrice | undefined): number | undefined {
  if (!price) return undefined;
  return (usage.inputTokens / 1000) * price.inputPer1k + (usage.outputTokens / 1000) * price.outputPer1k;
}
