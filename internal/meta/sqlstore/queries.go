package sqlstore

// readQueries are prepared on both pools, writeQueries on the write pool
// only. A query missing here still works, prepared per transaction.
var (
	readQueries = []string{
		qRepository, qListRepos, qListReposN,
		qBlobLink, qBlobLinkInfo, qReposWithBlob, qReposWithBlobN,
		qManifest, qManifestByTag, qReferrersAll, qReferrersType, qManifestRefs,
		qTag, qListTags, qListTagsN, qTagsOf,
		qUpload, qUploadsBefore, qUploadEnded,
		qEventsAfter, qEventsAfterN,
		qListBlobLinks, qListManifests,
		qUser, qRobot, qProject, qMembershipsOf, qSigningKeys, qLoginThrottle, qImmutableRules,
		qPullStats, qPullTotals, qProjectUsage, qUsageCounts, qManifestSeen,
	}
	writeQueries = []string{
		qEnsureRepo, qLinkBlob, qUnlinkBlob, qTouchBlobLink,
		qPutManifest, qManifestBlob, qManifestChild, qDeleteManifest,
		qManifestID, qTagPrevious, qTagCreate, qTagMove, qDeleteTag,
		qUploadCreate, qUploadUpdate, qUploadDelete, qUploadEnd,
		qEventInsert,
		qLeaseAcquire, qLeaseRelease, qAppendAudit, qRecordPulls,
		qSetProjectQuota, qLockUsage, qAddUsage, qUsageGrowth, qUsageRefBlobs,
		qUsageSize, qUsageRef, qUsageUnrefManifest, qUsageDropManifest, qRepoID,
		qUsageUnsized, qUsageSizeBlob, qTouchManifest,
	}
)
