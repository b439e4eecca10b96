import { describe, expect, it } from 'vitest';
import {
  availability, costUsd, DEFAULT_MODEL_ID, describeUnavailable, findModel, GEOGRAPHY_DESTINATIONS, geographyOfRegion, lifecycleOf, MODEL_REFUSALS, MODELS, modelInvokeArns,
  modelResourceArn, priceOf, profileForRegion,
} from './models.ts';

const HAIKU_3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const HAIKU_45 = 'anthropic.claude-haiku-4-5-20251001-v1:0';
const NOVA_2_LITE = 'amazon.nova-2-lite-v1:0';
const at = (iso: string) => new Date(iso);
const location = { partition: 'aws', region: 'us-east-1', accountId: '111122223333' };

describe('the models table', () => {
  it('holds each model once, with profile ids named after their model, and a price or an explicit unknown', () => {
    const ids = MODELS.flatMap((m) => [m.modelId, ...Object.values(m.profiles)]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of MODELS) {
      for (const [geo, profile] of Object.entries(m.profiles)) expect(profile).toBe(`${geo}.${m.modelId}`);
      expect(m.source).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
      // Every entry says its price or that it is unknown, with the page or the reason.
      expect(Object.keys(m)).toContain('price');
      if (m.price === undefined) expect(m.priceSource).toMatch(/^unknown: .*https:\/\/aws\.amazon\.com\/bedrock\/pricing\//);
      else {
        expect(m.priceSource).toMatch(/^https:\/\//);
        expect(m.price.inputPer1k).toBeGreaterThan(0);
        expect(m.price.outputPer1k).toBeGreaterThan(0);
      }
      // The documentation index has no Bedrock price: none is made up (docs/fidelity.md).
      expect(m.price).toBeUndefined();
    }
  });
});

describe('priceOf', () => {
  it('prices a model id and its geographic profiles as the model; a global profile, an unpriced or unknown model: unknown', () => {
    const price = { inputPer1k: 0.001, outputPer1k: 0.005 };
    const table = MODELS.map((m) => (m.modelId === NOVA_2_LITE ? { ...m, price } : m));
    expect(priceOf(NOVA_2_LITE, table)).toEqual(price);
    expect(priceOf(`us.${NOVA_2_LITE}`, table)).toEqual(price);
    expect(priceOf(`arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.${NOVA_2_LITE}`, table)).toEqual(price);
    expect(priceOf(`global.${NOVA_2_LITE}`, table)).toBeUndefined();
    expect(priceOf(HAIKU_45, table)).toBeUndefined();
    expect(priceOf('anthropic.claude-unknown-v1:0', table)).toBeUndefined();
    // The table as it is: no price anywhere.
    expect(priceOf(NOVA_2_LITE)).toBeUndefined();
  });
});

describe('findModel', () => {
  it('accepts a bare id, a profile id, and either ARN', () => {
    expect(findModel(HAIKU_45)).toMatchObject({ via: 'model', model: { name: 'Claude Haiku 4.5' } });
    expect(findModel(`us.${HAIKU_45}`)).toMatchObject({ via: 'profile', geography: 'us', model: { modelId: HAIKU_45 } });
    expect(findModel(`arn:aws:bedrock:us-east-1::foundation-model/${HAIKU_45}`)).toMatchObject({ via: 'model', id: HAIKU_45 });
    expect(findModel(`arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.${NOVA_2_LITE}`)).toMatchObject({ via: 'profile', geography: 'global' });
  });

  it('knows no other id, and no id under the other kind of ARN (control: the same ids under their own ARN kind)', () => {
    expect(findModel('anthropic.claude-none')).toBeUndefined();
    expect(findModel(`apac.${NOVA_2_LITE}`)).toBeUndefined();
    expect(findModel(`arn:aws:bedrock:us-east-1::foundation-model/us.${HAIKU_45}`)).toBeUndefined();
    expect(findModel(`arn:aws:bedrock:us-east-1:111122223333:inference-profile/${HAIKU_45}`)).toBeUndefined();
    expect(findModel(`arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.${HAIKU_45}`)).toBeDefined();
  });
});

describe('availability', () => {
  it('Claude 3 Haiku: available the day before its end of life, refused from 00:00 UTC of the day', () => {
    expect(availability(HAIKU_3, 'us-east-1', at('2026-09-09T23:59:59.999Z'))).toMatchObject({ available: true, status: 'ACTIVE' });
    expect(availability(HAIKU_3, 'us-east-1', at('2026-09-10T00:00:00Z'))).toMatchObject({ available: false, reason: 'END_OF_LIFE' });
    expect(availability(`us.${HAIKU_3}`, 'us-east-1', at('2026-12-03T12:00:00Z'))).toMatchObject({ available: false, reason: 'END_OF_LIFE' });
  });

  it('Claude 3 Haiku stays in Legacy where its card says so (control: us-east-1 the same day)', () => {
    const day = at('2026-12-03T12:00:00Z');
    for (const region of ['ca-central-1', 'eu-central-2', 'sa-east-1', 'ap-northeast-2']) {
      expect(availability(HAIKU_3, region, day)).toMatchObject({ available: true, status: 'LEGACY' });
    }
    expect(lifecycleOf(findModel(HAIKU_3)!.model, 'us-east-1', day)).toBe('END_OF_LIFE');
  });

  it('a profile-only model by its bare id needs a profile (control: through its profile it is available)', () => {
    const day = at('2026-12-03T12:00:00Z');
    const bare = availability(NOVA_2_LITE, 'us-east-1', day);
    expect(bare).toMatchObject({ available: false, reason: 'PROFILE_REQUIRED' });
    expect(describeUnavailable(NOVA_2_LITE, 'us-east-1', bare as Exclude<typeof bare, { available: true }>)).toContain(`us.${NOVA_2_LITE}`);
    expect(availability(`us.${NOVA_2_LITE}`, 'us-east-1', day)).toMatchObject({ available: true, status: 'ACTIVE', ref: { via: 'profile' } });
    expect(availability(HAIKU_45, 'us-east-1', day)).toMatchObject({ available: true, status: 'ACTIVE', ref: { via: 'model' } });
  });

  it('an unknown model is unknown, and says which models the table has', () => {
    const a = availability('anthropic.claude-none', 'us-east-1', new Date());
    expect(a).toEqual({ available: false, reason: 'UNKNOWN_MODEL' });
    expect(describeUnavailable('anthropic.claude-none', 'us-east-1', a as Exclude<typeof a, { available: true }>)).toContain(HAIKU_45);
  });
});

describe('what Bedrock answers', () => {
  it("words the on-demand refusal as AWS does, naming the model id", () => {
    expect(MODEL_REFUSALS.onDemandUnsupported(NOVA_2_LITE)).toBe(
      'Invocation of model ID amazon.nova-2-lite-v1:0 with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.',
    );
  });
});

describe('modelResourceArn', () => {
  it('names the inference profile (with the account) for a profile id, the foundation model (without) for a model id', () => {
    expect(modelResourceArn(`us.${HAIKU_45}`, location)).toBe(`arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.${HAIKU_45}`);
    expect(modelResourceArn(HAIKU_45, location)).toBe(`arn:aws:bedrock:us-east-1::foundation-model/${HAIKU_45}`);
    expect(modelResourceArn('eu.some.unknown-model', location)).toBe('arn:aws:bedrock:us-east-1:111122223333:inference-profile/eu.some.unknown-model');
    expect(modelResourceArn('anthropic.claude-none', location)).toBe('arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-none');
    const arn = `arn:aws:bedrock:eu-west-1::foundation-model/${HAIKU_45}`;
    expect(modelResourceArn(arn, location)).toBe(arn);
  });
});

describe('the default model and the profile of a Region\'s geography', () => {
  it('maps a Region to its geography (control: a Region outside us/eu/apac has none)', () => {
    expect(geographyOfRegion('us-west-2')).toBe('us');
    expect(geographyOfRegion('eu-central-1')).toBe('eu');
    expect(geographyOfRegion('ap-southeast-2')).toBe('apac');
    expect(geographyOfRegion('sa-east-1')).toBeUndefined();
  });

  it('the default is a current model of the table, Active today and callable from us-east-1', () => {
    expect(DEFAULT_MODEL_ID).toBe(HAIKU_45);
    expect(availability(profileForRegion(DEFAULT_MODEL_ID, 'us-east-1'), 'us-east-1', at('2026-12-03T00:00:00Z'))).toMatchObject({ available: true, status: 'ACTIVE' });
    // Control: the former default is refused today.
    expect(availability(HAIKU_3, 'us-east-1', at('2026-12-03T00:00:00Z'))).toMatchObject({ available: false, reason: 'END_OF_LIFE' });
  });

  it('names the us./eu. profile, and refuses with a sentence where the table has none (apac, or no geography)', () => {
    expect(profileForRegion(HAIKU_45, 'us-east-2')).toBe(`us.${HAIKU_45}`);
    expect(profileForRegion(HAIKU_45, 'eu-west-3')).toBe(`eu.${HAIKU_45}`);
    expect(() => profileForRegion(HAIKU_45, 'ap-northeast-1')).toThrow(/Claude Haiku 4\.5 has no inference profile .* for ap-northeast-1 \(geography apac; profiles listed: us\.anthropic/);
    expect(() => profileForRegion(HAIKU_45, 'ca-central-1')).toThrow(/geography unknown/);
    expect(() => profileForRegion('anthropic.claude-none', 'us-east-1')).toThrow(/not in the models table/);
  });
});

describe('modelInvokeArns (what IAM allows InvokeModel* on)', () => {
  const fm = (region: string, id: string) => `arn:aws:bedrock:${region}::foundation-model/${id}`;
  it('a bare model id: the foundation model in the deploy Region only (control: an unknown bare id too)', () => {
    expect(modelInvokeArns(HAIKU_45, location)).toEqual([fm('us-east-1', HAIKU_45)]);
    expect(modelInvokeArns('anthropic.claude-none', location)).toEqual([fm('us-east-1', 'anthropic.claude-none')]);
  });

  it('a geographic profile: the profile in the deploy Region, and the model in each destination Region, once each', () => {
    const arns = modelInvokeArns(`us.${HAIKU_45}`, location);
    expect(arns).toEqual([`arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.${HAIKU_45}`, ...GEOGRAPHY_DESTINATIONS.us.map((r) => fm(r, HAIKU_45))]);
    expect(new Set(arns).size).toBe(arns.length);
    // From a Region outside the list, the model in the deploy Region is allowed as well.
    expect(modelInvokeArns(`eu.${HAIKU_45}`, { ...location, region: 'il-central-1' })).toContain(fm('il-central-1', HAIKU_45));
  });

  it('a global profile: the profile, the model in the deploy Region and the model with no Region', () => {
    expect(modelInvokeArns(`global.${NOVA_2_LITE}`, location)).toEqual([
      `arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.${NOVA_2_LITE}`,
      fm('us-east-1', NOVA_2_LITE),
      `arn:aws:bedrock:::foundation-model/${NOVA_2_LITE}`,
    ]);
  });

  it('refuses a profile id the table does not hold (control: an ARN is taken as it is)', () => {
    expect(() => modelInvokeArns('eu.some.unknown-model', location)).toThrow(/destination Regions are unknown/);
    const arn = 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc';
    expect(modelInvokeArns(arn, location)).toEqual([arn]);
  });
});

describe('costUsd', () => {
  it('prices input and output per 1,000 tokens; no price, no cost', () => {
    expect(costUsd({ inputTokens: 2000, outputTokens: 500 }, { inputPer1k: 0.001, outputPer1k: 0.005 })).toBeCloseTo(0.0045, 10);
    expect(costUsd({ inputTokens: 2000, outputTokens: 500 }, undefined)).toBeUndefined();
  });
});
