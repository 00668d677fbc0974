// Mistakes the types must catch: each line after @ts-expect-error is wrong,
// and tsc fails ("Unused '@ts-expect-error' directive") if index.d.ts ever
// becomes loose enough to accept one of them.
import { createClient, fieldError, phoneQuotaExhausted, PHONE_NO_QUOTA, MiniauthError, PhoneOfferReason, SignedOutReason, KitErrorCode, ServerErrorCode, User } from './miniauth/index';

// @ts-expect-error baseURL is required
createClient({});
// @ts-expect-error an unknown option
createClient({ baseURL: 'https://a.example', onSignedIn() {} });
const auth = createClient({ baseURL: 'https://a.example' });

export async function misuse(err: MiniauthError, user: User): Promise<unknown[]> {
  // @ts-expect-error scene is a string
  await auth.scanWebLogin(42);
  // @ts-expect-error phoneOffer takes no argument
  await auth.phoneOffer('now');
  const offer = await auth.phoneOffer();
  // @ts-expect-error the field is offer, not offered
  const offered: boolean = offer.offered;
  // @ts-expect-error not a reason the server sends
  const reason: PhoneOfferReason = 'sold_out';
  // @ts-expect-error not a sign-out reason
  const why: SignedOutReason = 'expired';
  // @ts-expect-error not one of the kit's codes
  const kit: KitErrorCode = 'timeout';
  // @ts-expect-error not one of the server's codes
  const server: ServerErrorCode = 'teapot';
  // @ts-expect-error retryAfter is a number of seconds
  const wait: string = err.retryAfter;
  // @ts-expect-error roles are strings
  const roles: number[] = user.roles;
  // @ts-expect-error the quota errno is a constant
  const quota: 1400002 = PHONE_NO_QUOTA;
  // @ts-expect-error fieldError names a field
  const msg: string = fieldError(err);
  // @ts-expect-error phoneQuotaExhausted answers a boolean
  const gone: string = phoneQuotaExhausted({ errno: 1400001 });
  // @ts-expect-error denyWebLogin resolves with nothing
  const denied: { status: string } = await auth.denyWebLogin('s');
  // @ts-expect-error endSession takes a session id
  await auth.endSession('3');
  return [offered, reason, why, kit, server, wait, roles, quota, msg, gone, denied];
}
