import { Injectable } from '@nestjs/common';

/** STUB (lead): replaced by the leader helper. */
@Injectable()
export class LeaderService {}
