/**
 * Seed data: the demo tenants and their users. One source for the CDK custom resource and for the
 * local stack. User ids (`sub`) are assigned by the identity provider, never chosen here.
 */
import { randomInt } from 'node:crypto';
import type { PlanName } from './plans.ts';
import type { Order, TableNames, TenantConfig } from './tables.ts';

export interface SeedTenant {
  readonly tenantId: string;
  readonly name: string;
  readonly returnPolicyDays: number;
  readonly plan: PlanName;
}

export interface SeedUser {
  readonly username: string;
  readonly tenantId: string;
}

export const SEED_TENANTS: readonly SeedTenant[] = [
  { tenantId: 'tenant1', name: 'Tenant One Outfitters', returnPolicyDays: 10, plan: 'standard' },
  { tenantId: 'tenant2', name: 'Tenant Two Electronics', returnPolicyDays: 20, plan: 'premium' },
  { tenantId: 'tenant3', name: 'Tenant Three Books', returnPolicyDays: 30, plan: 'basic' },
];

/** tenant1-user2 exists to prove isolation between two users of the same tenant. */
export const SEED_USERS: readonly SeedUser[] = [
  { username: 'tenant1-user', tenantId: 'tenant1' },
  { username: 'tenant1-user2', tenantId: 'tenant1' },
  { username: 'tenant2-user', tenantId: 'tenant2' },
  { username: 'tenant3-user', tenantId: 'tenant3' },
];

export function tenantConfigItem(tenant: SeedTenant, names: TableNames): TenantConfig {
  return {
    tenantId: tenant.tenantId,
    name: tenant.name,
    status: 'ACTIVE',
    returnPolicyDays: tenant.returnPolicyDays,
    ordersTable: names.orders(tenant.tenantId),
    plan: tenant.plan,
  };
}

const PRODUCTS = [
  'Trail running shoes',
  'Rain jacket',
  'Wool socks (3 pairs)',
  'USB-C charger',
  'Noise-cancelling headphones',
  'Paperback: The Overstory',
  'Reading lamp',
  'Water bottle',
  'Backpack 28 L',
  'Phone case',
] as const;

const STATUSES: readonly Order['status'][] = ['PLACED', 'SHIPPED', 'DELIVERED', 'RETURNED'];

function pick<T>(values: readonly T[]): T {
  return values[randomInt(values.length)] as T;
}

/** A plausible random order for one user; order ids sort by date. */
export function randomOrder(userId: string, now: Date = new Date()): Order {
  const daysAgo = randomInt(0, 60);
  const date = new Date(now.getTime() - daysAgo * 86_400_000);
  const items = Array.from({ length: randomInt(1, 4) }, () => pick(PRODUCTS));
  const cents = items.reduce((sum) => sum + randomInt(499, 19_999), 0);
  const stamp = date.toISOString().slice(0, 10).replaceAll('-', '');
  return {
    userId,
    orderId: `ord-${stamp}-${randomInt(0, 0xffffff).toString(16).padStart(6, '0')}`,
    orderDate: date.toISOString().slice(0, 10),
    total: cents / 100,
    status: pick(STATUSES),
    items,
  };
}
